#!/usr/bin/env bash
# Debian packages the tests and document renderings need (installed by `make test` as root).
# Chromium: browser tests (Playwright's own browser download does not work here).
# ffmpeg: ffprobe checks the recorded files (tests/test_recording_*.py).
set -euo pipefail
PACKAGES=(chromium fonts-dejavu-core fonts-liberation ffmpeg)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
