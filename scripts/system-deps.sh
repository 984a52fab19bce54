#!/usr/bin/env bash
# Debian packages the tests and document renderings need (installed by `make test` as root).
# Chromium: browser tests (Playwright's own browser download does not work here).
# iproute2: the impaired-network test (network namespaces, TUN devices; tests/support/netns.py).
# poppler-utils: pdftoppm, to look at the PDF renderings (tests/test_protocol_render.py).
# festival + festvox-ru: Russian test speech for transcription (scripts/make_test_speech.sh, bench/transcript.py).
# ffmpeg: ffprobe checks the recorded files (tests/test_recording_*.py).
set -euo pipefail
PACKAGES=(chromium fonts-dejavu-core fonts-liberation iproute2 poppler-utils festival festvox-ru ffmpeg)
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
