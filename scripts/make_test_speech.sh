#!/usr/bin/env bash
# Russian test speech (tests/speech/*.wav) spoken by Debian's festival with the festvox-ru voice
# (msu_ru_nsh_clunits); 16 kHz mono PCM. Re-run after changing a phrase; the tests read the
# phrases' texts from tests/speech/phrases.txt (file name <TAB> text).
set -euo pipefail
cd "$(dirname "$0")/../tests/speech"
command -v text2wave >/dev/null || { echo "text2wave missing: apt-get install festival festvox-ru" >&2; exit 1; }
while IFS=$'\t' read -r name text; do
  [ -z "$name" ] && continue
  printf '%s\n' "$text" | text2wave -eval '(voice_msu_ru_nsh_clunits)' -o "$name.wav"
  echo "$name.wav: $text"
done < phrases.txt
