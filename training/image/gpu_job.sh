#!/bin/bash
# The emoji model's whole GPU job (one device call): unpack the prepared data, train VAE, feature
# network, text encoder + unet, export the Optimum ONNX folder, check it with onnxruntime, measure
# caption retrieval, write a sample grid. Run from the repo root with training/data/emoji.tar.gz carried:
#   bash training/image/gpu_job.sh            (results under $OUT)
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/emoji-job}
mkdir -p "$OUT" /tmp/emoji-data /tmp/emoji-out
tar -xzf training/data/emoji.tar.gz -C /tmp/emoji-data
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/log.txt" || true
python3 training/image/train_emoji.py --data /tmp/emoji-data/emoji --tokenizer models/emoji/tokenizer \
  --out /tmp/emoji-out --vae-seconds "${VAE_S:-100}" --cls-seconds "${CLS_S:-30}" --unet-seconds "${UNET_S:-280}" 2>&1 \
  | grep -v -i 'warn' | tee -a "$OUT/log.txt"
cd /tmp/emoji-out
tar -cf "$OUT/emoji_unet.tar" emoji/unet
tar -cf "$OUT/emoji_rest.tar" --exclude emoji/unet emoji
tar -cf "$OUT/eval.tar" eval
cp grid.png metrics.json "$OUT/"
ls -la "$OUT" >> "$OUT/log.txt"
