#!/usr/bin/env bash
# Installs every Debian 12 package MalariaLens needs to build, test, run and benchmark.
# Idempotent: when everything is already installed it returns in about a second
# without touching the network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  qt6-base-dev qt6-base-dev-tools libqt6sql6-sqlite libqt6opengl6-dev qt6-image-formats-plugins libqt6svg6
  libopencv-dev libspng-dev libdeflate-dev
  libtorch-dev libopenblas0-openmp
  libqcustomplot-dev libqcustomplot2.1-qt6
  xvfb xauth imagemagick
  zlib1g-dev
  python3 python3-torch python3-opencv python3-numpy
  poppler-utils desktop-file-utils appstream librsvg2-bin dpkg-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
