#!/bin/sh
# Tools the audio quality bench and the audio training recipes use (Debian/Ubuntu): idempotent.
#   espeak-ng, fluidsynth + fluid-soundfont-gm, sox: training data (training/audio/make_*_data.py)
#   pocketsphinx + pocketsphinx-en-us, aubio-tools: bench/quality-audio.ts
set -e
PKGS="espeak-ng fluidsynth fluid-soundfont-gm sox pocketsphinx pocketsphinx-en-us aubio-tools"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "setup-audio: all present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
echo "setup-audio: installed$missing"
