#!/usr/bin/env bash
# Install what the kiosk needs on a fresh Debian/Raspberry Pi OS machine, idempotently:
# Debian packages (only when run as root; otherwise say what is missing), a venv in .venv
# and the package in it.  Usage: scripts/bootstrap.sh [run|dev]
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-run}"
# Debian packages each profile needs. Keep the lists short and name why.
# local broker for the demo; ZBar for pyzbar; a CJK font for the kiosk screen; espeak-ng and
# vorbis-tools build (and check) the screen's Mandarin voice clips offline
run_packages=(mosquitto libzbar0 fonts-wqy-microhei espeak-ng vorbis-tools)
# + socat pty links (re-plug tests), headless Chromium for e2e, shellcheck for install-pi.sh,
# PostgreSQL for the county store's tests, cage (+ xwayland it needs) and wayland-info to start
# the screen unit's compositor headless
dev_packages=(mosquitto libzbar0 fonts-wqy-microhei espeak-ng vorbis-tools socat chromium shellcheck
  postgresql cage xwayland wayland-utils)
[ "$profile" = dev ] && wanted=("${dev_packages[@]}") || wanted=("${run_packages[@]}")

say() { printf 'bootstrap: %s\n' "$*" >&2; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
python_ok() { command -v python3 >/dev/null 2>&1 && python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
python_ok || missing+=(python3 python3-venv)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]} (run as root, or: sudo apt install ${missing[*]})"
  fi
fi
python_ok || { say "Python 3.11 or newer with venv is required"; exit 1; }

# dev: the county tests use the local PostgreSQL as user postgres over loopback, trust auth
# (a developer machine only; production uses a password file, see docs/county.md)
if [ "$profile" = dev ] && command -v pg_lsclusters >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  pg_lsclusters --no-header | while read -r ver cluster _port status _rest; do
    hba="/etc/postgresql/$ver/$cluster/pg_hba.conf"
    if [ -f "$hba" ] && ! grep -Eq '^host[[:space:]]+all[[:space:]]+(all|postgres)[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
      say "PostgreSQL $ver/$cluster: trusting user postgres on 127.0.0.1 (dev profile)"
      sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
      [ "$status" = online ] && pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" reload
    fi
    if [ "$status" != online ]; then
      say "starting PostgreSQL $ver/$cluster"
      pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start
    fi
  done
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
# the demo's synthetic camera and USB cameras need OpenCV: the [opencv] extra (a Pi installed
# with install-pi.sh takes Debian's python3-opencv instead); dev includes it
extras="[opencv]"
[ "$profile" = dev ] && extras="[dev]"
stamp=".venv/.installed-$profile"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing checkpoint-kiosk$extras into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
  touch "$stamp"
fi
# the voice clips are committed; a clip added to kiosk/web/voice.py is built here
if ! .venv/bin/kiosk web voice --if-missing >/dev/null; then
  say "voice clips could not be built (apt install espeak-ng vorbis-tools); the screen stays silent"
fi
