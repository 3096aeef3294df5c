#!/bin/bash
# The whole GPU job for the shapes model: data, training, ONNX export + check, quality sweep.
# Run from the repo root on the GPU machine with training/data/shapes_meshes.json carried along
# (made by `node training/shapes/export_meshes.mjs`). Results land in $OUT (or ./training/runs/shapes).
# Usage: bash training/shapes/gpu_job.sh [train_seconds] [sweep_seconds] [extra args...]
set -o pipefail
OUT=${OUT:-training/runs/shapes}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
TRAIN=${1:-270}
SWEEP=${2:-150}
shift 2 2>/dev/null
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/log.txt"
python3 training/shapes/train_shapes.py --out "$OUT" --meshes training/data/shapes_meshes.json \
  --train-seconds "$TRAIN" --sweep-seconds "$SWEEP" "$@" 2>&1 | tee -a "$OUT/log.txt"
