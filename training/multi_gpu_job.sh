#!/bin/bash
# The bundled shapes and emoji models trained side by side on one machine with 4 GPUs (the device tool's
# nvidia-h100-x4 / nvidia-h200-x4), in two consecutive calls of at most 10 minutes each; the second continues
# the first's training states (kept in $W, which outlives a call while the machine stays warm) and also
# runs the issue-8 benchmarks on the CPU cores and the GPU the training leaves free.
#
#   phase 1: GPU 0+1  shapes "A": PointDenoiser without local layers, DistributedDataParallel over 2 GPUs
#            GPU 2    shapes "B": the same with kNN local layers before every other block (--local-every 2)
#            GPU 3    emoji: VAE, feature network, text encoder + unet
#            (all v-prediction / Min-SNR recipes of train_shapes.py / train_emoji.py; learning-rate schedules
#             span both phases)
#   phase 2: the three trainings continue from their saved states (same GPUs); GPU 3 first runs the CUDA
#            Griffin-Lim benchmark; CPU cores 0-15 run bench/device/e2e_job.sh (SDK vs PyTorch end to end).
#
# Run from the repository root with training/data/emoji.tar.gz and training/data/shapes_meshes.json carried
# (phase 1), and what bench/device/setup.sh needs (phase 2). Results: $OUT (at most 8 files come back).
#   PHASE=1 bash training/multi_gpu_job.sh ; PHASE=2 bash training/multi_gpu_job.sh
set -u
PHASE=${PHASE:-1}
OUT=${OUT:-/tmp/mgj-out}
W=${W:-/tmp/mgj}
LIMIT=${LIMIT:-545}          # hard wall-clock limit for every training process, seconds
T1=${T1:-320}                # training seconds per phase (shapes); the schedules span 2 phases
T2=${T2:-300}
EMOJI_U1=${EMOJI_U1:-300}
EMOJI_U2=${EMOJI_U2:-280}
SWEEP=${SWEEP:-130}
SHAPES_EXTRA=${SHAPES_EXTRA:-}   # e.g. --tiny for a CPU dry run
EMOJI_EXTRA=${EMOJI_EXTRA:-}     # e.g. --smoke
mkdir -p "$OUT" "$W/A" "$W/B" "$W/emoji" "$W/emoji-data"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
T0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - T0 ))s] $*"; }
exec > >(tee -a "$W/job-phase$PHASE.log") 2>&1
stamp "phase $PHASE on $(hostname), $(nproc) cores"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "GPUs", torch.cuda.device_count())'
DATA_ARGS="--meshes training/data/shapes_meshes.json --per-class 4000 --heldout-per-class 100"

shapes() { # name gpus port cores workers extra...
  local name=$1 gpus=$2 port=$3 cores=$4 workers=$5; shift 5
  local n; n=$(echo "$gpus" | tr ',' '\n' | wc -l)
  local r=0
  for r in $(seq 0 $((n - 1))); do
    CUDA_VISIBLE_DEVICES=$gpus MASTER_ADDR=127.0.0.1 MASTER_PORT=$((port + PHASE)) WORLD_SIZE=$n RANK=$r LOCAL_RANK=$r \
      timeout "$LIMIT" taskset -c "$cores" python3 training/shapes/train_shapes.py --out "$W/$name" $DATA_ARGS --workers "$workers" \
      --sweep-seconds "$SWEEP" --state-out "$W/$name/state.pt" $SHAPES_EXTRA "$@" > "$W/$name/phase$PHASE-rank$r.log" 2>&1 &
  done
}

if [ "$PHASE" = 1 ]; then
  if [ -f .device/dk-runtime.tar.xz ]; then (bash bench/device/setup.sh > "$W/setup-phase1.log" 2>&1 &) ; fi
  shapes A 0,1 29510 0-31 14 --train-seconds "$T1" --schedule-seconds $((T1 + T2))
  shapes B 2 29520 32-47 14 --local-every 2 --train-seconds "$T1" --schedule-seconds $((T1 + T2))
  ( tar -xzf training/data/emoji.tar.gz -C "$W/emoji-data" &&
    CUDA_VISIBLE_DEVICES=3 timeout "$LIMIT" taskset -c 48-63 python3 training/image/train_emoji.py --data "$W/emoji-data/emoji" \
      --tokenizer models/emoji/tokenizer --out "$W/emoji" --vae-seconds 100 --cls-seconds 30 --unet-seconds "$EMOJI_U1" \
      --unet-schedule-seconds $((EMOJI_U1 + EMOJI_U2)) --state-out "$W/emoji/state.pt" $EMOJI_EXTRA ) > "$W/emoji/phase1.log" 2>&1 &
else
  cp "$W/A/model.onnx" "$W/A/model-phase1.onnx" 2>/dev/null; cp "$W/B/model.onnx" "$W/B/model-phase1.onnx" 2>/dev/null
  for d in A B; do mkdir -p "$W/$d/phase1"; mv "$W/$d"/sweep* "$W/$d"/samples_rank* "$W/$d/train_log.json" "$W/$d/phase1/" 2>/dev/null; done
  cp "$W/emoji/state.pt" "$W/emoji/state-phase1.pt"; cp -r "$W/emoji/emoji" "$W/emoji/emoji-phase1" 2>/dev/null
  cp "$W/emoji/metrics.json" "$W/emoji/metrics-phase1.json" 2>/dev/null; cp "$W/emoji/grid.png" "$W/emoji/grid-phase1.png" 2>/dev/null
  shapes A 0,1 29510 16-31 10 --train-seconds "$T2" --schedule-seconds $((T1 + T2)) --state-in "$W/A/state.pt"
  shapes B 2 29520 32-47 12 --local-every 2 --train-seconds "$T2" --schedule-seconds $((T1 + T2)) --state-in "$W/B/state.pt"
  ( stamp "Griffin-Lim CUDA bench (GPU 3, cores 48-63)"
    mkdir -p "$W/gl"
    CUDA_VISIBLE_DEVICES=3 timeout 150 taskset -c 48-63 python3 bench/gpu/griffin_lim_cuda.py "$W/gl" > "$W/gl/log.txt" 2>&1
    stamp "Griffin-Lim done (rc $?); emoji continues"
    CUDA_VISIBLE_DEVICES=3 timeout $((LIMIT - $(date +%s) + T0)) taskset -c 48-63 python3 training/image/train_emoji.py \
      --data "$W/emoji-data/emoji" --tokenizer models/emoji/tokenizer --out "$W/emoji" --unet-seconds "$EMOJI_U2" \
      --unet-schedule-seconds $((EMOJI_U1 + EMOJI_U2)) --state-in "$W/emoji/state-phase1.pt" --state-out "$W/emoji/state.pt" $EMOJI_EXTRA
  ) > "$W/emoji/phase2.log" 2>&1 &
  # the phase-1 shapes A and emoji models, as model folders for the benchmark (timing depends on the
  # architecture and the sampler settings, not on how far training has gone)
  mkdir -p "$W/bench-models/shapes/unet"
  cp -r models/shapes/diffusekit.json models/shapes/model_index.json models/shapes/scheduler "$W/bench-models/shapes/"
  cp "$W/A/model-phase1.onnx" "$W/bench-models/shapes/unet/model.onnx"
  python3 - "$W/bench-models/shapes" <<'PY'
import json, sys
d = sys.argv[1]
c = json.load(open(f'{d}/scheduler/scheduler_config.json'))
c['prediction_type'] = 'v_prediction'
c.pop('sigma_max', None)
json.dump(c, open(f'{d}/scheduler/scheduler_config.json', 'w'), indent=2)
k = json.load(open(f'{d}/diffusekit.json'))
k['defaults']['steps'] = 25
json.dump(k, open(f'{d}/diffusekit.json', 'w'), indent=2)
PY
  ( mkdir -p "$W/bench"; MODELS=".device/models:$W/bench-models:$W/emoji/emoji-phase1" OUT="$W/bench" CORES=0-15 THREADS=16 BUDGET=${BENCH_BUDGET:-420} taskset -c 0-15 bash bench/device/e2e_job.sh ) \
    > "$W/bench-console.log" 2>&1 &
fi

# progress while the jobs run
i=0
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
  sleep 5; i=$((i + 1)); [ $((i % 6)) = 0 ] || continue
  stamp "running: $(jobs -rp | wc -l) jobs; $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader | tr '\n' ' ')"
  tail -qn1 "$W/A/phase$PHASE-rank0.log" "$W/B/phase$PHASE-rank0.log" "$W/emoji/phase$PHASE.log" 2>/dev/null | cut -c1-160
done
stamp "collecting"   # (no bare `wait`: it would also wait for the tee of the log)
cd "$W" || exit 1
[ -f A/model.onnx ] && cp A/model.onnx "$OUT/shapesA.onnx"
[ -f B/model.onnx ] && cp B/model.onnx "$OUT/shapesB.onnx"
if [ -d emoji/emoji ]; then
  tar -C emoji -cf "$OUT/emoji_unet.tar" emoji/unet
  tar -C emoji -cf "$OUT/emoji_rest.tar" --exclude emoji/unet emoji
fi
tar -czf "$OUT/logs.tar.gz" --exclude '*.pt' --exclude 'A/*.onnx' --exclude 'B/*.onnx' --exclude 'emoji-data' --exclude 'emoji/emoji*' \
  job-phase*.log setup-phase1.log A B emoji/*.log emoji/metrics*.json emoji/grid*.png emoji/eval gl bench bench-console.log 2>/dev/null
ls -la "$OUT"
stamp "done"
