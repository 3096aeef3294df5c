#!/usr/bin/env bash
# The rng area's one GPU job: measures the MUFU sin/cos unit (measure_mufu.cu, input to
# fit_mufu.ts) and draws torch.randn reference values (gpu_check.py, input to gpu_compare.ts).
# Run from the repo root on the GPU machine: bash training/rng/gpu_job.sh  (results in $OUT)
set -uo pipefail
OUT=${OUT:-/tmp/rng-gpu-out}
mkdir -p "$OUT"
cd "$(dirname "$0")"
W=$(mktemp -d)
job() {
  nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv
  nvcc --version | tail -2
  # Plain flags (no fast math), like torch's own build: __sincosf is an intrinsic either way.
  nvcc -O3 -arch=native -o "$W/measure_mufu" measure_mufu.cu || nvcc -O3 -arch=sm_90 -o "$W/measure_mufu" measure_mufu.cu || return 1
  cuobjdump -sass "$W/measure_mufu" > "$OUT/sass.txt" 2>&1 || echo "cuobjdump failed"
  grep -E "Function|MUFU|FMUL" "$OUT/sass.txt"
  time "$W/measure_mufu" "$W" || return 1
  gzip -6 -c "$W/mufu_sweep.bin" > "$OUT/mufu_sweep.bin.gz"
  gzip -6 -c "$W/mufu_edge.bin" > "$OUT/mufu_edge.bin.gz"
  cp "$W/mufu_index.json" "$OUT/"
  cat "$OUT/mufu_index.json"
  time PYTHONUNBUFFERED=1 python3 gpu_check.py > "$OUT/randn_extra.json"
  ls -la "$OUT"
}
job 2>&1 | tee "$OUT/log.txt"
