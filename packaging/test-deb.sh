#!/usr/bin/env bash
# Builds the .deb from a complete build folder, installs it with apt-get, runs the installed
# CLI on a few real images, checks the desktop files, then removes the package again.
#   packaging/test-deb.sh BUILD_DIR SHARED_DATA_DIR
set -euo pipefail
build=$1
data=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: installing a package needs root"
  exit 0
fi
if dpkg-query -W -f='${Status}' malarialens 2>/dev/null | grep -q "install ok installed"; then
  echo "FAIL: malarialens is already installed on this machine; refusing to touch it" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'apt-get remove -y -qq malarialens >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

(cd "$build" && cpack -G DEB -B "$work/pkg" >/dev/null)
deb=$(ls "$work"/pkg/malarialens_*.deb)
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb -f "$deb" Depends
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null

test -x /usr/bin/malarialens
test -x /usr/bin/malarialens-cli
/usr/bin/malarialens-cli --version | grep -q "^malarialens-cli "
desktop-file-validate /usr/share/applications/org.malarialens.MalariaLens.desktop
appstreamcli validate --no-net /usr/share/metainfo/org.malarialens.MalariaLens.metainfo.xml >/dev/null
test -f /usr/share/icons/hicolor/scalable/apps/org.malarialens.MalariaLens.svg
test -f /usr/share/icons/hicolor/48x48/apps/org.malarialens.MalariaLens.png
test -f /usr/share/man/man1/malarialens-cli.1.gz
# Runs from the installed path with a fresh HOME, so it can only write there.
export HOME="$work/home"
mkdir -p "$HOME"
if [ -d "$data/nih-cells" ]; then
  mkdir -p "$work/cells/Parasitized" "$work/cells/Uninfected"
  for cls in Parasitized Uninfected; do
    files=("$data/nih-cells/$cls"/*.png)
    for f in "${files[@]:0:5}"; do ln -s "$f" "$work/cells/$cls/"; done
  done
  out=$(QT_QPA_PLATFORM=offscreen /usr/bin/malarialens-cli stats "$work/cells" --json)
  echo "$out" | python3 -c 'import json,sys; o=json.load(sys.stdin); assert o["images"]==10, o; assert o["classes"]=={"Parasitized":5,"Uninfected":5}, o'
  if /usr/bin/malarialens-cli --help | grep -q "^  classify"; then
    out=$(QT_QPA_PLATFORM=offscreen /usr/bin/malarialens-cli classify "$work/cells" --json)
    echo "$out" | python3 -c 'import json,sys; o=json.load(sys.stdin); assert o["images"]==10 and o["failed"]==0, o; assert o["accuracy"]>=0.7, o; print("installed classify accuracy", o["accuracy"])'
  fi
else
  echo "shared data missing: installed CLI checked with --version only"
fi
# The GUI starts from the installed path and paints a window.
QT_QPA_PLATFORM=offscreen timeout 60 /usr/bin/malarialens --grab "$work/shot.png" --grab-delay 500 >/dev/null 2>&1
test -s "$work/shot.png"

apt-get remove -y -qq malarialens >/dev/null
test ! -e /usr/bin/malarialens-cli
test ! -e /usr/share/applications/org.malarialens.MalariaLens.desktop
echo "package installed, ran and removed cleanly"
