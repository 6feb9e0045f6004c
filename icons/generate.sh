#!/usr/bin/env bash
# Regenerates the PNG icons from icon.svg and tray.svg (needs rsvg-convert, from librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"

command -v rsvg-convert >/dev/null || { echo "rsvg-convert not found: apt-get install librsvg2-bin" >&2; exit 1; }

render() { # svg size out
  rsvg-convert --width "$2" --height "$2" --keep-aspect-ratio --format png "$1" --output "$3"
}

render icon.svg 32 32x32.png
render icon.svg 128 128x128.png
render icon.svg 256 128x128@2x.png
render icon.svg 512 icon.png
render tray.svg 32 tray.png

# The window's favicon is the same mark.
cp icon.svg ../ui/public/icon.svg

echo "icons: 32x32.png 128x128.png 128x128@2x.png icon.png tray.png"
