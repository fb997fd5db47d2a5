#!/bin/sh
# The L1 channel-pruning workflow of seed 004 (train -> shrink 50% with L1 -> retrain the smaller model) on
# Fashion-MNIST as 3x32x32 images, sized for 2 shared cores: 8,000 training images, 1 epoch each, 2,000 test images.
# Usage: bench/results/shrink-vgg11-fashion-mnist/run.sh [OUTDIR] (default /tmp/shrink-wf); SP = the sharpprune command.
set -e
SP=${SP:-"dotnet run -c Release --project src/SharpPrune.Cli --"}
OUT=${1:-/tmp/shrink-wf}
COMMON="--data fashion-mnist-3x32 --limit-train 8000 --limit-test 2000 --batch 64 --threads 2"
$SP train --model vgg11 $COMMON --epochs 1 --lr 0.05 --schedule step:0.5 --seed 1 --save $OUT/vgg11-dense
$SP shrink --load $OUT/vgg11-dense/last.safetensors --ratio 0.5 --criterion l1 --data fashion-mnist-3x32 --limit-test 2000 \
  --threads 2 --save $OUT/vgg11-shrunk.safetensors
$SP train --load $OUT/vgg11-shrunk.safetensors $COMMON --epochs 1 --lr 0.01 --schedule none --seed 1 --save $OUT/vgg11-shrunk-retrain
$SP eval --load $OUT/vgg11-shrunk-retrain/last.safetensors --limit-test 2000 --threads 2
# baseline: the same extra epoch on the dense model
$SP train --load $OUT/vgg11-dense/last.safetensors $COMMON --epochs 1 --lr 0.01 --schedule none --seed 1 --save $OUT/vgg11-dense-retrain
