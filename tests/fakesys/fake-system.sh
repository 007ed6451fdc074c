#!/usr/bin/env bash
# Stand-in for the system commands scripts/install-pi.sh runs, for tests: called through a
# symlink named like the command (apt-get, systemctl, useradd ...). Every call is appended to
# $FAKESYS_LOG; users and groups live in $KIOSK_ROOT/etc, installed packages and unit states
# in $FAKESYS_STATE.
set -euo pipefail
: "${KIOSK_ROOT:?}" "${FAKESYS_LOG:?}" "${FAKESYS_STATE:?}"
name=$(basename "$0")
printf '%s %s\n' "$name" "$*" >>"$FAKESYS_LOG"
state=$FAKESYS_STATE
mkdir -p "$state" "$KIOSK_ROOT/etc"
touch "$state/packages" "$state/enabled" "$state/active" "$KIOSK_ROOT/etc/passwd" "$KIOSK_ROOT/etc/group"

has() { grep -qx "$2" "$1"; }
add_member() { # add_member GROUP USER
  local line
  line=$(grep "^$1:" "$KIOSK_ROOT/etc/group")
  case "$line" in
    *:) sed -i "s/^$1:\(.*\):\$/$1:\1:$2/" "$KIOSK_ROOT/etc/group" ;;
    *) sed -i "s/^\($1:.*\)\$/\1,$2/" "$KIOSK_ROOT/etc/group" ;;
  esac
}

case "$name" in
  apt-get)
    if [ "${1:-}" != update ]; then
      for arg in "$@"; do
        case "$arg" in -* | install) ;; *) echo "$arg" >>"$state/packages" ;; esac
      done
    fi
    ;;
  apt-cache) # policy PKG: a candidate for the packages named in $FAKESYS_AVAILABLE
    if [[ " ${FAKESYS_AVAILABLE:-} " == *" $2 "* ]]; then echo "  Candidate: 1.0"; else echo "  Candidate: (none)"; fi
    ;;
  dpkg-query)
    pkg=${!#}
    has "$state/packages" "$pkg" || exit 1
    printf 'install ok installed'
    ;;
  getent)
    grep "^$2:" "$KIOSK_ROOT/etc/$1" || exit 2
    ;;
  groupadd)
    echo "${!#}:x:$((900 + $(wc -l <"$KIOSK_ROOT/etc/group"))):" >>"$KIOSK_ROOT/etc/group"
    ;;
  useradd)
    user=${!#} groups=""
    while [ $# -gt 1 ]; do
      [ "$1" = --groups ] && groups=$2
      shift
    done
    echo "$user:x:$((800 + $(wc -l <"$KIOSK_ROOT/etc/passwd"))):::/nonexistent:/usr/sbin/nologin" >>"$KIOSK_ROOT/etc/passwd"
    echo "$user:x:$((800 + $(wc -l <"$KIOSK_ROOT/etc/group"))):" >>"$KIOSK_ROOT/etc/group"
    for group in ${groups//,/ }; do add_member "$group" "$user"; done
    ;;
  usermod) # usermod -aG GROUP USER
    add_member "$2" "$3"
    ;;
  userdel)
    sed -i "/^$1:/d" "$KIOSK_ROOT/etc/passwd"
    ;;
  chown) ;;
  systemctl)
    [ "${1:-}" = --quiet ] && shift
    verb=${1:-} unit=${!#}
    case "$verb" in
      is-enabled) has "$state/enabled" "$unit" ;;
      is-active) has "$state/active" "$unit" ;;
      enable) echo "$unit" >>"$state/enabled" ;;
      disable) sed -i "/^$unit\$/d" "$state/enabled" ;;
      start | restart) has "$state/active" "$unit" || echo "$unit" >>"$state/active" ;;
      stop) sed -i "/^$unit\$/d" "$state/active" ;;
      get-default) echo "${FAKESYS_DEFAULT_TARGET:-multi-user.target}" ;;
      daemon-reload) ;;
      *) echo "fake systemctl: unknown verb $verb" >&2; exit 1 ;;
    esac
    ;;
  python3) # -c CHECK (exit 0) or -m venv [--system-site-packages] DIR: a venv of fakes
    if [ "${1:-}" = -m ] && [ "${2:-}" = venv ]; then
      dir=${!#}
      mkdir -p "$dir/bin"
      for tool in python pip kiosk; do ln -sf "$(readlink -f "$0")" "$dir/bin/$tool"; done
    fi
    ;;
  python | pip) ;;
  dpkg) # --print-architecture: $FAKESYS_ARCH (arm64 unless a test says otherwise)
    echo "${FAKESYS_ARCH:-arm64}"
    ;;
  kiosk) # kiosk outbox status: $FAKESYS_PENDING entries wait
    if [ "${1:-}" = outbox ]; then
      printf '{"pending": %s, "oldest_age_s": null, "parked": 0}\n' "${FAKESYS_PENDING:-0}"
    else
      echo '{}'
    fi
    ;;
  *) echo "fake-system: no stand-in for $name" >&2; exit 1 ;;
esac
