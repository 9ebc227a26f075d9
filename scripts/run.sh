#!/usr/bin/env bash
# Installs, builds and starts the MalariaLens GUI, optionally on a folder:
#   ./scripts/run.sh [FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "run.sh: no display found (DISPLAY/WAYLAND_DISPLAY unset); starting under xvfb-run." >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" ./build/app/gui/malarialens "$@"
fi
exec ./build/app/gui/malarialens "$@"
