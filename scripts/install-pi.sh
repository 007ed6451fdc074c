#!/usr/bin/env bash
# Install checkpoint-kiosk on Raspberry Pi OS (Debian 12 "bookworm" or later), idempotently:
# apt packages, the users kiosk and kiosk-screen, a venv in /opt/kiosk/venv (with the system's
# site packages, for apt's picamera2), the package from this checkout, a starter
# /etc/kiosk/kiosk.toml, /etc/kiosk/credentials (0700) and the systemd units, enabled.
# A second run changes nothing unless this checkout or the units changed.
#
# Usage: sudo scripts/install-pi.sh [--dry-run]
#        sudo scripts/install-pi.sh --uninstall [--purge [--force]] [--dry-run]
#   --dry-run    print every step, change nothing
#   --uninstall  stop and remove the units and /opt/kiosk; keep config, credentials and ledger
#   --purge      with --uninstall: also delete /etc/kiosk, /var/lib/kiosk and the users
#                (refused while the outbox holds undelivered entries, unless --force)
# KIOSK_ROOT=DIR puts every file under DIR instead of / (for the tests, with PATH shims).
set -euo pipefail

ROOT="${KIOSK_ROOT:-}"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/kiosk
VENV=$PREFIX/venv
ETC=/etc/kiosk
CREDS=$ETC/credentials
STATE=/var/lib/kiosk
UNITS=/etc/systemd/system
CREDENTIALS=(mqtt_password subject_key verify_token session_secret)
GENERATED=(subject_key session_secret)   # random per kiosk; the others come from the county

mode=install dry=0 purge=0 force=0
changes=0 units_changed=0 code_changed=0 on_pi=0 browser=""

say() { printf 'install-pi: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; }

# A step that changes the system: printed, and run unless --dry-run.
run() {
  changes=$((changes + 1))
  if [ "$dry" = 1 ]; then
    printf 'would run: %s\n' "$*"
  else
    printf '+ %s\n' "$*"
    "$@"
  fi
}
ok() { printf 'ok: %s\n' "$*"; }

# put_file SOURCE DEST MODE: install SOURCE at DEST (under ROOT) unless identical already.
put_file() {
  local dest="$ROOT$2"
  if [ -f "$dest" ] && cmp -s "$1" "$dest" && [ "$(stat -c %a "$dest")" = "${3#0}" ]; then
    ok "$2 is current"
    return 1
  fi
  run install -D -m "$3" "$1" "$dest"
}

# put_text DEST MODE TEXT: like put_file, for generated content.
put_text() {
  local tmp rc=0
  tmp=$(mktemp)
  printf '%s\n' "$3" >"$tmp"
  put_file "$tmp" "$1" "$2" || rc=$?
  rm -f "$tmp"
  return "$rc"
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) dry=1 ;;
      --uninstall) mode=uninstall ;;
      --purge) purge=1 ;;
      --force) force=1 ;;
      -h | --help) usage; exit 0 ;;
      *) say "unknown option: $1"; usage; exit 2 ;;
    esac
    shift
  done
  if [ "$purge" = 1 ] && [ "$mode" != uninstall ]; then
    say "--purge only goes with --uninstall"
    exit 2
  fi
}

# Raspberry Pi OS reports ID=raspbian (32-bit) or ID=debian (64-bit); others are refused.
check_system() {
  local osr="$ROOT/etc/os-release" key value id="" version="" name=""
  [ -r "$osr" ] || die "unsupported system: no /etc/os-release; needs Raspberry Pi OS or Debian 12 (bookworm) or later"
  while IFS='=' read -r key value; do
    value=${value#\"}
    value=${value%\"}
    case "$key" in
      ID) id=$value ;;
      VERSION_ID) version=$value ;;
      PRETTY_NAME) name=$value ;;
    esac
  done <"$osr"
  case "$id" in
    debian | raspbian) ;;
    *) die "unsupported system: ${name:-$id}; needs Raspberry Pi OS or Debian 12 (bookworm) or later" ;;
  esac
  if ! [[ ${version%%.*} =~ ^[0-9]+$ ]] || [ "${version%%.*}" -lt 12 ]; then
    die "unsupported system: ${name:-$id $version} is older than Debian 12 (bookworm); upgrade first"
  fi
  check_architecture
  command -v systemctl >/dev/null || die "unsupported system: no systemd (systemctl not found)"
  if [ "$(id -u)" -ne 0 ] && [ "$dry" = 0 ] && [ -z "$ROOT" ]; then
    die "run as root: sudo $0"
  fi
  if [ -r "$ROOT/proc/device-tree/model" ] && grep -qa "Raspberry Pi" "$ROOT/proc/device-tree/model"; then
    on_pi=1
    ok "$(tr -d '\0' <"$ROOT/proc/device-tree/model") running $name"
  else
    say "not a Raspberry Pi: picamera2 and GPIO packages left out (use camera.source = \"opencv\")"
    ok "$name"
  fi
}

# 64-bit only: on 32-bit Raspberry Pi OS (armhf) pillow, numpy, zxing-cpp and OpenCV publish
# no wheels on PyPI (scripts/check_pi_wheels.py --armhf), so pip would try to compile them.
check_architecture() {
  local arch
  arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
  case "$arch" in
    arm64 | aarch64 | amd64 | x86_64) ;;
    armhf | armel | armv6l | armv7l | i386 | i686)
      die "unsupported system: 32-bit ($arch); checkpoint-kiosk needs a 64-bit OS:" \
        "flash Raspberry Pi OS Lite (64-bit), Bookworm or later (a Pi 3, 4 or 5 runs it)." \
        "pillow, numpy, zxing-cpp and OpenCV have no 32-bit ARM wheels (docs/deploy.md)" ;;
    *) die "unsupported system: architecture $arch; needs arm64 (or amd64)" ;;
  esac
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; }

install_packages() {
  # espeak-ng + vorbis-tools: the screen's Mandarin voice clips are built locally, never online
  local wanted=(python3 python3-venv libzbar0 ca-certificates fonts-noto-cjk mosquitto-clients cage
    espeak-ng vorbis-tools)
  local missing=() pkg
  # On a Pi, OpenCV comes from Debian (built against apt's NumPy, which picamera2 uses too)
  [ "$on_pi" = 1 ] && wanted+=(python3-picamera2 python3-lgpio python3-opencv)
  for pkg in chromium chromium-browser; do   # Debian names it chromium, older Pi OS chromium-browser
    if installed "$pkg"; then browser=$pkg; break; fi
  done
  if [ -z "$browser" ]; then
    for pkg in chromium chromium-browser; do
      if candidate "$pkg"; then browser=$pkg; wanted+=("$pkg"); break; fi
    done
  fi
  [ -n "$browser" ] || say "no Chromium package available: the screen unit is left disabled"
  for pkg in "${wanted[@]}"; do
    installed "$pkg" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    ok "apt packages installed: ${wanted[*]}"
    return
  fi
  run apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

member() { getent group "$1" | cut -d: -f4 | tr ',' '\n' | grep -qx "$2"; }

# ensure_user NAME HOME GROUP...: a system user with its own group and these extra groups.
ensure_user() {
  local user=$1 home=$2 group
  shift 2
  for group in "$@"; do
    getent group "$group" >/dev/null || run groupadd --system "$group"
  done
  if ! getent passwd "$user" >/dev/null; then
    run useradd --system --user-group --home-dir "$home" --no-create-home \
      --shell /usr/sbin/nologin --groups "$(IFS=,; echo "$*")" "$user"
    return
  fi
  for group in "$@"; do
    member "$group" "$user" || run usermod -aG "$group" "$user"
  done
  ok "user $user in groups $*"
}

source_hash() {
  (cd "$SRC" && find kiosk pyproject.toml scripts/pi-constraints.txt -type f \
    -not -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
    sha256sum | cut -d' ' -f1
}

install_venv() {
  local stamp=$PREFIX/.installed-source want constraints=()
  if [ -x "$ROOT$VENV/bin/python" ]; then
    ok "venv $VENV exists"
  else
    run python3 -m venv --system-site-packages "$ROOT$VENV"
  fi
  want=$(source_hash)
  if [ -f "$ROOT$stamp" ] && [ "$(cat "$ROOT$stamp")" = "$want" ]; then
    ok "checkpoint-kiosk from $SRC is installed (source $(printf '%.12s' "$want"))"
    return
  fi
  # a Pi takes OpenCV from apt (python3-opencv, seen through --system-site-packages);
  # another machine gets the [opencv] extra's wheel for USB cameras
  local target="${SRC}[opencv]"
  if [ "$on_pi" = 1 ]; then
    constraints=(--constraint "$SRC/scripts/pi-constraints.txt")
    target=$SRC
  fi
  run "$ROOT$VENV/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
    "${constraints[@]}" --upgrade "$target"
  # the voice clips ship as package data; build any that are missing (espeak-ng, offline)
  run "$ROOT$VENV/bin/kiosk" web voice --if-missing
  put_text "$stamp" 0644 "$want" || true
  code_changed=1
}

install_files() {
  local doc name
  for doc in "$SRC"/docs/*.md; do
    put_file "$doc" "$PREFIX/docs/$(basename "$doc")" 0644 || true
  done
  if [ -e "$ROOT$ETC/kiosk.toml" ]; then
    ok "$ETC/kiosk.toml kept (never overwritten)"
  else
    run install -D -m 0640 "$SRC/examples/kiosk.toml" "$ROOT$ETC/kiosk.toml"
    run chown root:kiosk "$ROOT$ETC/kiosk.toml"
  fi
  if [ -d "$ROOT$CREDS" ] && [ "$(stat -c %a "$ROOT$CREDS")" = 700 ]; then
    ok "$CREDS is private (0700)"
  else
    run install -d -m 0700 "$ROOT$CREDS"
  fi
  for name in "${CREDENTIALS[@]}"; do
    [ -e "$ROOT$CREDS/$name" ] && continue
    if [[ " ${GENERATED[*]} " == *" $name "* ]]; then
      say "generating $CREDS/$name (random, this kiosk's own)"
      run sh -c "umask 077 && head -c 32 /dev/urandom | base64 >'$ROOT$CREDS/$name'"
    else
      say "created empty $CREDS/$name: put the county's value in it (docs/deploy.md)"
      run install -m 0600 /dev/null "$ROOT$CREDS/$name"
    fi
  done
  if [ -n "$browser" ]; then
    put_text "$ETC/screen.env" 0644 "SCREEN_BROWSER=/usr/bin/$browser" || true
  fi
  put_text /etc/pam.d/kiosk-screen 0644 "$(pam_file)" || true
}

pam_file() {
  printf '%s\n' "# logind session for kiosk-screen.service (cage needs a seat to drive the display)" \
    "auth     required pam_unix.so nullok" \
    "account  required pam_unix.so" \
    "session  required pam_unix.so" \
    "session  required pam_systemd.so"
}

install_units() {
  local unit
  for unit in kiosk.service kiosk-screen.service; do
    if put_file "$SRC/systemd/$unit" "$UNITS/$unit" 0644; then units_changed=1; fi
  done
  [ "$units_changed" = 1 ] && run systemctl daemon-reload
  enable_unit kiosk.service
  if [ -n "$browser" ]; then enable_unit kiosk-screen.service; fi
  if systemctl is-active --quiet kiosk.service; then
    if [ "$code_changed" = 1 ] || [ "$units_changed" = 1 ]; then
      run systemctl restart kiosk.service
    fi
  fi
  if [ "$(systemctl get-default 2>/dev/null)" = graphical.target ]; then
    say "a desktop session runs: kiosk-screen takes tty1; Raspberry Pi OS Lite suits a kiosk better"
  fi
}

enable_unit() {
  if systemctl is-enabled --quiet "$1"; then ok "$1 enabled"; else run systemctl enable "$1"; fi
}

check_console() {
  local cmdline="$ROOT/boot/firmware/cmdline.txt"
  if grep -qa "Raspberry Pi 5" "$ROOT/proc/device-tree/model" 2>/dev/null; then
    # serial0 is the debug connector (ttyAMA10) on a Pi 5: only console=ttyAMA0 hits GPIO14/15
    if [ -r "$cmdline" ] && grep -Eq 'console=ttyAMA0([, ]|$)' "$cmdline"; then
      say "the serial console is on the GPIO 14/15 UART (ttyAMA0): remove console=ttyAMA0" \
        "from cmdline.txt for a thermometer there, then reboot"
    fi
    say "Pi 5: a thermometer on GPIO 14/15 is /dev/ttyAMA0 after dtparam=uart0=on in" \
      "/boot/firmware/config.txt; /dev/serial0 is the debug connector (docs/deploy.md)"
  elif [ -r "$cmdline" ] && grep -Eq 'console=(serial0|ttyAMA0|ttyS0)' "$cmdline"; then
    say "the serial console is on: for a thermometer on the GPIO UART run" \
      "raspi-config nonint do_serial_cons 1 (and do_serial_hw 0), then reboot"
  fi
}

do_install() {
  check_system
  install_packages
  ensure_user kiosk "$STATE" video dialout gpio
  ensure_user kiosk-screen /var/lib/kiosk-screen video render input audio
  install_venv
  install_files
  install_units
  check_console
  if [ "$changes" -eq 0 ]; then
    say "nothing to change: checkpoint-kiosk is installed"
  elif [ "$dry" = 1 ]; then
    say "dry run: $changes steps would run"
  else
    say "done ($changes steps). Next: edit $ETC/kiosk.toml, provision $CREDS (docs/deploy.md)," \
      "check with: sudo $VENV/bin/kiosk doctor --config $ETC/kiosk.toml;" \
      "then: sudo systemctl start kiosk kiosk-screen"
  fi
}

pending_entries() {
  local out
  out=$("$ROOT$VENV/bin/kiosk" outbox status --config "$ROOT$ETC/kiosk.toml" 2>/dev/null) || return 1
  printf '%s' "$out" | sed -n 's/.*"pending": *\([0-9]*\).*/\1/p'
}

do_uninstall() {
  local unit removed=0 pending
  check_system
  if [ "$purge" = 1 ] && [ "$force" = 0 ] && [ -x "$ROOT$VENV/bin/kiosk" ] && [ -e "$ROOT$ETC/kiosk.toml" ]; then
    pending=$(pending_entries) || die "cannot read the outbox: refusing to purge the ledger (--force to delete anyway)"
    if [ "${pending:-0}" -gt 0 ]; then
      die "$pending entries have not reached the broker: start the kiosk until they are delivered, or --force"
    fi
  fi
  for unit in kiosk-screen.service kiosk.service; do
    [ -e "$ROOT$UNITS/$unit" ] || continue
    if systemctl is-active --quiet "$unit"; then run systemctl stop "$unit"; fi
    if systemctl is-enabled --quiet "$unit"; then run systemctl disable "$unit"; fi
    run rm -f "$ROOT$UNITS/$unit"
    removed=1
  done
  [ "$removed" = 1 ] && run systemctl daemon-reload
  [ -e "$ROOT/etc/pam.d/kiosk-screen" ] && run rm -f "$ROOT/etc/pam.d/kiosk-screen"
  [ -e "$ROOT$PREFIX" ] && run rm -rf "$ROOT$PREFIX"
  if [ "$purge" = 1 ]; then
    [ -e "$ROOT$STATE" ] && run rm -rf "$ROOT$STATE"
    [ -e "$ROOT/var/lib/kiosk-screen" ] && run rm -rf "$ROOT/var/lib/kiosk-screen"
    [ -e "$ROOT$ETC" ] && run rm -rf "$ROOT$ETC"
    getent passwd kiosk-screen >/dev/null && run userdel kiosk-screen
    getent passwd kiosk >/dev/null && run userdel kiosk
  elif [ -e "$ROOT$STATE" ] || [ -e "$ROOT$ETC" ]; then
    say "kept $ETC (config, credentials) and $STATE (the ledger); --purge deletes them"
  fi
  if [ "$changes" -eq 0 ]; then say "nothing to remove"; fi
}

parse_args "$@"
if [ "$mode" = install ]; then do_install; else do_uninstall; fi
