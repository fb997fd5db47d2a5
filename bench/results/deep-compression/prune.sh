#!/usr/bin/env bash
# Stage 1 of the Deep Compression pipeline on the full Fashion-MNIST: dense training, then three rounds of
# per-layer magnitude pruning (l1-unstructured; each round removes the same fraction of what is left, so the final
# kept fraction is the product) each followed by retraining with the pruned weights held at zero.
# Usage: prune.sh SHARPPRUNE OUTDIR MODEL   (MODEL: lenet5 | lenet300); RETRAIN_EPOCHS (default 6) per round,
# LAST_RETRAIN_EPOCHS (default RETRAIN_EPOCHS) for the last.
# An existing OUTDIR/dense/last.safetensors is reused.
set -euo pipefail
SP=$1; OUT=$2; MODEL=$3
COMMON="--data fashion-mnist --batch 128 --optim sgd --momentum 0.9 --wd 5e-4 --threads 1"
mkdir -p "$OUT"
# Per-round amounts = 1 - keep^(1/3) of the final kept fraction per layer.
case $MODEL in
  lenet5)   AMOUNTS="conv1=0.072 conv2=0.370 fc1=0.689 fc2=0.609 fc3=0.415" ;;  # keep 80/25/3/6/20 %
  lenet300) AMOUNTS="fc1=0.598 fc2=0.569 fc3=0.370" ;;                        # keep 6.5/8/25 %
esac
[ -f "$OUT/dense/last.safetensors" ] || \
  $SP train --model $MODEL $COMMON --epochs 15 --lr 0.05 --schedule cosine --seed 1 --save "$OUT/dense"
PREV="$OUT/dense/last.safetensors"
for round in 1 2 3; do
  P="$OUT/pruned$round.safetensors"; cp "$PREV" "$P"
  for la in $AMOUNTS; do
    $SP prune --load "$P" --method l1-unstructured --amount "${la#*=}" --layers "^${la%%=*}\$" --save "$P" --threads 1
  done
  EPOCHS=${RETRAIN_EPOCHS:-6}; [ $round = 3 ] && EPOCHS=${LAST_RETRAIN_EPOCHS:-$EPOCHS}
  $SP train --load "$P" $COMMON --epochs $EPOCHS --lr 0.01 --schedule cosine --seed $((round + 1)) --save "$OUT/retrain$round"
  PREV="$OUT/retrain$round/last.safetensors"
done
$SP report --load "$PREV"
$SP eval --load "$OUT/dense/last.safetensors"
$SP eval --load "$PREV"
