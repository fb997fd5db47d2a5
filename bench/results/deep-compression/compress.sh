#!/usr/bin/env bash
# Stage 2 of the Deep Compression pipeline, after prune.sh: weight sharing (k-means, linear init), centroid
# fine-tuning (train --load on the quantized checkpoint: only the codebooks and the dense biases learn), Huffman
# coding into a .spz file, and evaluation of the .spz file itself.
# Usage: compress.sh SHARPPRUNE OUTDIR MODEL BITS   (BITS as for quantize --bits); FT_EPOCHS (default 3) and
# FT_LR (default 0.001) set the fine-tuning; an existing OUTDIR/finetune/last.safetensors is reused.
set -euo pipefail
SP=$1; OUT=$2; MODEL=$3; BITS=$4
[ -f "$OUT/finetune/last.safetensors" ] || {
$SP quantize --load "$OUT/retrain3/last.safetensors" --bits "$BITS" --save "$OUT/quantized.safetensors" --threads 1
$SP eval --load "$OUT/quantized.safetensors" --threads 1
$SP train --load "$OUT/quantized.safetensors" --data fashion-mnist --batch 128 --optim sgd --momentum 0.9 --wd 0 \
  --epochs ${FT_EPOCHS:-3} --lr ${FT_LR:-0.001} --schedule cosine --seed 5 --threads 1 --save "$OUT/finetune"
}
$SP compress --load "$OUT/finetune/last.safetensors" --save "$OUT/$MODEL.spz"
$SP report --load "$OUT/$MODEL.spz"
$SP eval --load "$OUT/dense/last.safetensors" --threads 1
$SP eval --load "$OUT/finetune/last.safetensors" --threads 1
$SP eval --load "$OUT/$MODEL.spz" --threads 1
ls -l "$OUT/$MODEL.spz"
