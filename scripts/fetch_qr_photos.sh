#!/usr/bin/env bash
# Fetch third-party QR photos that are NOT in this repository, for scripts/bench_scanner.py:
# the camera photos in the Debian source package of ZXing (core/src/test/resources/benchmark)
# and the examples in the Debian source package of ZBar. Needs a deb-src line for Debian
# (e.g. /etc/apt/sources.list.d/debian-src.sources with "Types: deb-src") and dpkg-dev.
# Usage: scripts/fetch_qr_photos.sh [CACHE_DIR]   (default ~/.cache/checkpoint-kiosk/qr-photos)
set -euo pipefail
cache="${1:-$HOME/.cache/checkpoint-kiosk/qr-photos}"
say() { printf 'fetch_qr_photos: %s\n' "$*" >&2; }

if ! apt-get source --print-uris zxing >/dev/null 2>&1; then
  say "apt has no source packages: add a deb-src entry for Debian, run apt-get update, retry"
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source --download-only -qq zxing zbar >/dev/null 2>&1)
mkdir -p "$cache/zxing-android-1" "$cache/zxing-android-2" "$cache/zbar-examples"
tar -xf "$work"/zxing_*.orig.tar.* -C "$work" --wildcards '*/core/src/test/resources/benchmark/*'
cp "$work"/zxing-*/core/src/test/resources/benchmark/android-1/* "$cache/zxing-android-1/"
cp "$work"/zxing-*/core/src/test/resources/benchmark/android-2/* "$cache/zxing-android-2/"
tar -xf "$work"/zbar_*.orig.tar.* -C "$work" --wildcards '*/examples/*.png'
cp "$work"/zbar-*/examples/*.png "$cache/zbar-examples/"
say "$(find "$cache" -type f | wc -l) pictures in $cache (licences: Apache-2.0 for ZXing, LGPL-2.1 for ZBar)"
