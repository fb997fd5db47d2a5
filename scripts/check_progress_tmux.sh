#!/usr/bin/env bash
# Checks the terminal rendering of training progress in a real pseudo-terminal (tmux): progress bars while
# training, plain epoch lines left behind, and no bars with --no-progress. Run from the repository root after a
# Release build: scripts/check_progress_tmux.sh
set -euo pipefail
cli="dotnet src/SharpPrune.Cli/bin/Release/net10.0/sharpprune.dll"
out="$(mktemp -d)"; trap 'rm -rf "$out"; tmux kill-session -t sp-progress 2>/dev/null || true' EXIT
train="train --model lenet5 --data fashion-mnist --data-dir data/fashion-mnist-sample --epochs 2 --batch 64 --lr 0.05"

tmux new-session -d -s sp-progress -x 140 -y 20 "cd '$PWD' && $cli $train --save '$out/a'; echo EXITED; sleep 60"
seen_bar=0
for _ in $(seq 1 120); do
  screen="$(tmux capture-pane -p -t sp-progress)"
  if grep -q '━' <<<"$screen" && grep -q 'img/s' <<<"$screen"; then seen_bar=1; fi
  grep -q EXITED <<<"$screen" && break
  sleep 0.5
done
echo "$screen" | grep -v '^$'
[ "$seen_bar" = 1 ] || { echo "FAIL: no progress bar seen while training" >&2; exit 1; }
grep -q 'epoch 2/2  lr' <<<"$screen" || { echo "FAIL: epoch lines missing after the run" >&2; exit 1; }
grep -q '━' <<<"$screen" && { echo "FAIL: bars left on screen after the run" >&2; exit 1; }
tmux kill-session -t sp-progress

tmux new-session -d -s sp-progress -x 140 -y 20 "cd '$PWD' && $cli $train --no-progress --save '$out/b'; echo EXITED; sleep 60"
for _ in $(seq 1 120); do
  screen="$(tmux capture-pane -p -t sp-progress)"
  grep -q '━' <<<"$screen" && { echo "FAIL: a bar with --no-progress" >&2; exit 1; }
  grep -q EXITED <<<"$screen" && break
  sleep 0.5
done
grep -q 'epoch 2/2  lr' <<<"$screen" || { echo "FAIL: --no-progress lost the epoch lines" >&2; exit 1; }
echo "progress rendering OK (bars on a terminal, plain lines left behind, none with --no-progress)"
