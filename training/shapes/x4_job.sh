#!/bin/bash
# The third shapes training: three candidates side by side on one machine with 4 GPUs (the device tool's
# nvidia-h200-x4 / nvidia-h100-x4), then the best of them on all four GPUs. Three consecutive calls of under
# 10 minutes; each phase continues the last one's training states, kept in $W (which outlives a call while
# the machine stays warm, i.e. when the next call starts within its idle window).
#
#   phases 1 and 2: GPU 0+1  "A": the shipped network, continued from models/shapes/unet/model.onnx
#                                 (DistributedDataParallel over 2 GPUs)
#                   GPU 2    "P": full point self-attention in every other block (--point-attn-every 2), from scratch
#                   GPU 3    "L": 128 latents and two latent layers per block (--latents 128 --latent-layers 2), from scratch
#                   each ends with a quick quality check (Karras Heun 25 steps from sigma 5, no guidance, 14 x 100 clouds)
#   phase 3:        the candidate with the best 1-NNA after phase 2 continues on GPUs 0-3 (DDP over 4) and runs the
#                   full quality sweep, its settings split between the four GPUs.
# All learning-rate schedules span the three phases (T1 + T2 + T3 seconds of training).
#
# SET=local (the fourth session): local geometry for the low noise levels (model.py geo_ks, local_pool), three
# candidates that all go on through phases 1-3, eager (no --compile), each phase returning its ONNX files:
#   GPU 0+1 "G":  geo features (k 8, 16, 48) + a mean/max-pooled kNN layer before every other block, from scratch
#   GPU 2   "F":  the same network started from the shipped weights (new layers zero-initialised: it starts as the
#                 shipped model), the loaded parameters at 0.3x the learning rate
#   GPU 3   "FL": F with more of its noise levels small (--t-dist low)
#   phase 3 ends with the full quality sweep for each.
#
# Run from the repository root with training/data/shapes_meshes.json carried. Results in $OUT.
#   PHASE=1 bash training/shapes/x4_job.sh ; PHASE=2 ... ; PHASE=3 ...   (or PHASE=anneal: see below)
# A CPU dry run: W=/tmp/x4dry OUT=/tmp/x4dry-out GPUS=cpu EXTRA=--tiny T1=5 T2=5 T3=5 PHASE=1 bash training/shapes/x4_job.sh (then 2, 3)
set -u
PHASE=${PHASE:-1}
OUT=${OUT:-/tmp/x4-out}
W=${W:-/tmp/x4}
T1=${T1:-280}
T2=${T2:-280}
T3=${T3:-280}
LIMIT=${LIMIT:-555}         # hard wall-clock limit for every training process, seconds
EXTRA=${EXTRA:-}            # e.g. --tiny for a CPU dry run
SET=${SET:-third}
COMPILE=--compile; [ "$SET" = local ] && COMPILE=""
SCHED=$((T1 + T2 + T3))
QUICK=heun:25:1:5
FULL=${FULL:-heun:25:1:5,heun:10:1:5,heun:50:1:5,heun:100:1:5,heun:25:1.5:5,heun:25:1:5:5,heun:25:1:5:20,ddim:25:1,ddim:50:1,heun:25:1:3}
NAMES="A P L"; [ "$SET" = local ] && NAMES="G F FL"
for d in $NAMES; do mkdir -p "$W/$d"; done
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
T0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - T0 ))s] $*"; }
exec > >(tee -a "$W/job-phase$PHASE.log") 2>&1
stamp "phase $PHASE on $(hostname), $(nproc) cores"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader 2>/dev/null
python3 -c 'import torch; print("torch", torch.__version__, "GPUs", torch.cuda.device_count())'
DATA="--meshes training/data/shapes_meshes.json --per-class 4000 --heldout-per-class 100"
ARCH_A=""
ARCH_P="--point-attn-every 2"
ARCH_L="--latents 128 --latent-layers 2"
ARCH_LOCAL="--geo-ks 8,16,48 --local-every 2 --local-pool maxmean"

run() { # name gpus port cores workers extra...
  local name=$1 gpus=$2 port=$3 cores=$4 workers=$5; shift 5
  local n r
  n=$(echo "$gpus" | tr ',' '\n' | wc -l)
  for r in $(seq 0 $((n - 1))); do
    local env=(MASTER_ADDR=127.0.0.1 MASTER_PORT=$((port + PHASE)) WORLD_SIZE=$n RANK=$r LOCAL_RANK=$r)
    [ "$gpus" != cpu ] && env+=(CUDA_VISIBLE_DEVICES=$gpus)
    env "${env[@]}" timeout "$LIMIT" taskset -c "$cores" python3 training/shapes/train_shapes.py --out "$W/$name" $DATA \
      --workers "$workers" $COMPILE --state-out "$W/$name/state.pt" --schedule-seconds "$SCHED" $EXTRA "$@" \
      > "$W/$name/phase$PHASE-rank$r.log" 2>&1 &
  done
}
g() { [ "${GPUS:-}" = cpu ] && echo cpu || echo "$1"; }
all_cores() { [ "$(nproc)" -ge 64 ] && echo "$1" || echo "0-$(( $(nproc) - 1 ))"; }

if [ "$SET" = local ]; then
  T=$T1; [ "$PHASE" = 2 ] && T=$T2; [ "$PHASE" = 3 ] && T=$T3
  SW=$QUICK; SWS=60; [ "$PHASE" = 3 ] && SW=${FULL_LOCAL:-heun:25:1:5,heun:10:1:5,heun:50:1:5,heun:100:1:5,ddim:25:1,heun:25:1.5:5} && SWS=200
  FINE="--init-onnx ${INIT:-models/shapes/unet/model.onnx} --init-lr-scale 0.3"
  for d in $NAMES; do
    S0=""
    if [ "$PHASE" != 1 ]; then
      mkdir -p "$W/$d/phase$((PHASE - 1))"; cp "$W/$d"/sweep.json "$W/$d/train_log.json" "$W/$d/phase$((PHASE - 1))/" 2>/dev/null
      rm -f "$W/$d"/sweep*; S0="--state-in $W/$d/state.pt"
    fi
    eval "S0_$d=\"$S0\""
  done
  run G "$(g 0,1)" 29510 "$(all_cores 0-31)" 14 $ARCH_LOCAL $S0_G --train-seconds "$T" --sweep-settings "$SW" --sweep-seconds $SWS
  run F "$(g 2)" 29520 "$(all_cores 32-47)" 14 $ARCH_LOCAL $FINE $S0_F --train-seconds "$T" --sweep-settings "$SW" --sweep-seconds $SWS
  run FL "$(g 3)" 29530 "$(all_cores 48-63)" 14 $ARCH_LOCAL $FINE --t-dist low $S0_FL --train-seconds "$T" --sweep-settings "$SW" --sweep-seconds $SWS
elif [ "$PHASE" = 1 ] || [ "$PHASE" = 2 ]; then
  T=$T1; [ "$PHASE" = 2 ] && T=$T2
  for d in A P L; do
    if [ "$PHASE" = 2 ]; then mkdir -p "$W/$d/phase1"; cp "$W/$d"/sweep.json "$W/$d/train_log.json" "$W/$d/model.onnx" "$W/$d/phase1/" 2>/dev/null; rm -f "$W/$d"/sweep*; fi
  done
  if [ "$PHASE" = 1 ]; then
    A0="--init-onnx ${INIT:-models/shapes/unet/model.onnx} --lr 2.5e-4"; P0=""; L0=""
  else
    A0="--state-in $W/A/state.pt --lr 2.5e-4"; P0="--state-in $W/P/state.pt"; L0="--state-in $W/L/state.pt"
  fi
  run A "$(g 0,1)" 29510 "$(all_cores 0-31)" 14 $ARCH_A $A0 --train-seconds "$T" --sweep-settings $QUICK --sweep-seconds 60
  run P "$(g 2)" 29520 "$(all_cores 32-47)" 14 $ARCH_P $P0 --train-seconds "$T" --sweep-settings $QUICK --sweep-seconds 60
  run L "$(g 3)" 29530 "$(all_cores 48-63)" 14 $ARCH_L $L0 --train-seconds "$T" --sweep-settings $QUICK --sweep-seconds 60
elif [ "$PHASE" = anneal ]; then
  # What ran instead of phase 3 (the machine had been given back, so the phase-2 training states were gone):
  # a short annealing run for two models from their weights, side by side, each on 2 GPUs, eager, with a
  # low learning rate decaying to a tenth (phases 1 and 2 ended mid-schedule at 1e-4 and more), then the full
  # sweep for each: "A" = the shipped model (models/shapes/unet/model.onnx), "L" = candidate L after
  # phase 2 (its export, carried as training/data/shapesL2.onnx).
  TA=${TA:-280}
  cp training/data/shapesL2.onnx "$W/L2-init.onnx"
  for d in A L; do rm -f "$W/$d"/sweep* "$W/$d"/state.pt; done
  anneal() { # name gpus port cores init lr
    local name=$1 gpus=$2 port=$3 cores=$4 init=$5 lr=$6 r
    shift 6
    for r in 0 1; do
      env CUDA_VISIBLE_DEVICES=$gpus MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r \
        timeout "$LIMIT" taskset -c "$cores" python3 training/shapes/train_shapes.py --out "$W/$name" $DATA --workers 15 \
        --init-onnx "$init" --lr "$lr" --train-seconds "$TA" --sweep-settings "$FULL" --sweep-seconds 150 $EXTRA "$@" \
        > "$W/$name/phase$PHASE-rank$r.log" 2>&1 &
    done
  }
  anneal A "$(g 0,1)" 29550 "$(all_cores 0-31)" models/shapes/unet/model.onnx 5e-5 $ARCH_A
  anneal L "$(g 2,3)" 29560 "$(all_cores 32-63)" "$W/L2-init.onnx" 1.5e-4 $ARCH_L
else
  # the best after phase 2 by 1-NNA at the default setting
  BEST=$(python3 - "$W" <<'PY'
import json, sys
best = None
for d in 'APL':
    try:
        r = json.load(open(f'{sys.argv[1]}/{d}/sweep.json'))['results'][0]['mean']['nna']
    except Exception:
        continue
    print(f'{d}: 1-NNA {r * 100:.1f}%', file=sys.stderr)
    if best is None or r < best[1]:
        best = (d, r)
print(best[0] if best else 'A')
PY
)
  stamp "phase 3 continues $BEST"
  mkdir -p "$W/$BEST/phase2"; cp "$W/$BEST"/sweep.json "$W/$BEST/train_log.json" "$W/$BEST/model.onnx" "$W/$BEST/phase2/" 2>/dev/null; rm -f "$W/$BEST"/sweep*
  eval "ARCH=\$ARCH_$BEST"
  LR=""; [ "$BEST" = A ] && LR="--lr 2.5e-4"
  run "$BEST" "$(g 0,1,2,3)" 29540 "$(all_cores 0-63)" 15 $ARCH $LR --state-in "$W/$BEST/state.pt" --train-seconds "$T3" \
    --sweep-settings "$FULL" --sweep-seconds 150
  echo "$BEST" > "$W/best.txt"
fi

i=0
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
  sleep 5; i=$((i + 1)); [ $((i % 6)) = 0 ] || continue
  stamp "running: $(jobs -rp | wc -l) jobs; $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null | tr '\n' ' ')"
  for d in $NAMES; do tail -qn1 "$W/$d/phase$PHASE-rank0.log" 2>/dev/null | cut -c1-150; done
done
stamp "collecting"
cd "$W" || exit 1
for d in $NAMES; do
  [ -f "$d/sweep.json" ] && python3 -c "import json,sys; r=json.load(open('$d/sweep.json'))['results']; [print('$d', x['sampler'], x['steps'], x['guidance'], x['sigma_max'], x['churn'], 'nna %.1f cov %.1f' % (x['mean']['nna']*100, x['mean']['cov']*100)) for x in r]"
done
# the models come back in parts of 15 MB (the device tool returns files of at most 16 MiB); cat them together
if [ "$SET" = local ]; then
  for d in $NAMES; do [ -f "$d/model.onnx" ] && split -b 15M -d "$d/model.onnx" "$OUT/$d-phase$PHASE.onnx.part"; done
elif [ "$PHASE" = 3 ]; then
  split -b 15M -d "$(cat best.txt)/model.onnx" "$OUT/shapes.onnx.part" 2>/dev/null
elif [ "$PHASE" = anneal ]; then
  for d in A L; do [ -f "$d/model.onnx" ] && split -b 15M -d "$d/model.onnx" "$OUT/anneal$d.onnx.part"; done
elif [ "$PHASE" = 2 ]; then
  for d in A P L; do [ -f "$d/model.onnx" ] && split -b 15M -d "$d/model.onnx" "$OUT/shapes$d.onnx.part"; done
fi
tar -czf "$OUT/logs-phase$PHASE.tar.gz" --exclude '*.pt' --exclude '*.onnx' job-phase*.log $NAMES best.txt 2>/dev/null
ls -la "$OUT"
stamp "done"
