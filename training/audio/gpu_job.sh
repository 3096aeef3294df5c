#!/bin/bash
# One GPU call trains both audio models concurrently on the one GPU, then exports + verifies ONNX and samples.
# Run from the repo root on the GPU machine with training/data/audio carried:
#   SECONDS_EACH=380 bash training/audio/gpu_job.sh
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/audio_out}
SECONDS_EACH=${SECONDS_EACH:-380}
DATA=${DATA:-training/data/audio}
EXTRA=${EXTRA:-}
BATCH=${BATCH:-256}
mkdir -p "$OUT" /tmp/runs
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/log.txt" 2>&1
python3 -c "import torch, onnx, onnxruntime; print('torch', torch.__version__, 'onnx', onnx.__version__, 'ort', onnxruntime.__version__)" >> "$OUT/log.txt" 2>&1
for m in speech music; do
  python3 training/audio/train.py --model $m --data $DATA/$m.npz --out /tmp/runs/$m \
    --seconds "$SECONDS_EACH" --batch "$BATCH" $EXTRA > /tmp/runs/$m.log 2>&1 &
done
wait
for m in speech music; do
  cat /tmp/runs/$m.log >> "$OUT/log.txt"
  cp /tmp/runs/$m/model.onnx "$OUT/$m.onnx" 2>/dev/null
  cp /tmp/runs/$m/samples.npz "$OUT/${m}_samples.npz" 2>/dev/null
done
tar czf "$OUT/runs.tar.gz" -C /tmp/runs speech/train_log.txt speech/train_info.json speech/scheduler_config.json \
  music/train_log.txt music/train_info.json music/scheduler_config.json speech.log music.log 2>> "$OUT/log.txt"
ls -la "$OUT" >> "$OUT/log.txt"
