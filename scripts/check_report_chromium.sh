#!/usr/bin/env bash
# Renders a run's report.html in headless Chromium (Debian: apt-get install chromium) and writes a screenshot,
# to look at: scripts/check_report_chromium.sh runs/lenet5-oneshot [out.png]
set -euo pipefail
run="${1:?usage: $0 RUN_FOLDER [SCREENSHOT.png]}"; shot="${2:-$run/report-screenshot.png}"
html="$(cd "$run" && pwd)/report.html"
[ -f "$html" ] || { echo "no report.html in $run" >&2; exit 1; }
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "no chromium found (Debian: apt-get install chromium)" >&2; exit 1; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,2600 --screenshot="$shot" "file://$html" 2>/dev/null
[ -s "$shot" ] || { echo "FAIL: no screenshot written" >&2; exit 1; }
echo "rendered $html -> $shot ($(stat -c %s "$shot") bytes)"
