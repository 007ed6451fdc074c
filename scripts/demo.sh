#!/usr/bin/env bash
# Install what is missing, then run the kiosk demo on simulated devices (no hardware needed).
# Extra arguments go to `kiosk demo` (e.g. scripts/demo.sh --duration 60).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run
exec .venv/bin/kiosk demo "$@"
