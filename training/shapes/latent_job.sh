#!/bin/bash
# The two-stage shapes model (latent.py, train_latent.py) on one machine with 4 GPUs (the device tool's
# nvidia-h100-x4 / nvidia-h200-x4), one call of under 10 minutes: the data once (all cores), then one variant per
# GPU side by side, each training its autoencoder and prior, exporting and scoring itself. The variant with the best
# mean 1-NNA of prior samples comes back whole (ONNX files + its weights, split in 15 MB parts); every variant's logs,
# scores and sample clouds come back in logs.tar.gz.
#
# Run from the repository root with training/data/shapes_meshes.json carried. Results in $OUT.
#   VARIANTS="name:args;name:args;..."   one per GPU (default below)
#   INIT=path/latent_ema.pt              continue every variant from these weights (e.g. the last call's, carried)
#   AE=290 PRIOR=80 EVAL=90              seconds per stage
#   MERGE="DEC:PRI:settings"             then score the decoder of variant DEC with the prior of variant PRI (both
#                                        trained with --freeze-encoder/--skip-ae from one INIT, so their latents agree)
#                                        as variant 'merged', which then comes back whole if it scores best
#   TAKE=name                            bring back this variant (e.g. merged) instead of the best-scoring one
# CPU dry run: OUT=/tmp/lj GPUS=cpu EXTRA=--tiny bash training/shapes/latent_job.sh
set -u
OUT=${OUT:-/tmp/latent-out}
W=${W:-/tmp/latent}
AE=${AE:-290}
PRIOR=${PRIOR:-80}
EVAL=${EVAL:-90}
LIMIT=${LIMIT:-560}
PER_CLASS=${PER_CLASS:-4000}
EXTRA=${EXTRA:-}
INIT=${INIT:-}
SETTINGS=${SETTINGS:-heun:25:1:0/heun:25:1:5,heun:25:1:5/heun:25:1:5,heun:25:2:0/heun:25:1:5,heun:25:1:0/heun:50:1:5}
VARIANTS=${VARIANTS:-"kl3:--kl 1e-3;kl4:--kl 1e-4;kl2:--kl 1e-2;deep:--kl 1e-3 --dec-depth 6"}
mkdir -p "$W" "$OUT"
export PYTHONUNBUFFERED=1
T0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - T0 ))s] $*"; }
exec > >(tee -a "$W/job.log") 2>&1
stamp "on $(hostname), $(nproc) cores"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader 2>/dev/null
NG=$(python3 -c 'import torch; print(torch.cuda.device_count())')
M=training/data/shapes_meshes.json
if [ ! -f "$W/train.npz" ]; then
  python3 training/shapes/shapes_data.py --split train --per-class "$PER_CLASS" --workers "$(nproc)" --meshes $M --out "$W/train.npz" &
  gen=$!
  python3 training/shapes/shapes_data.py --split heldout --per-class 100 --workers 4 --meshes $M --out "$W/heldout.npz"
  wait $gen  # (a bare wait would also wait for the tee above)
fi
stamp "data ready"
IFS=';' read -ra VS <<< "$VARIANTS"
i=0
names=()
pids=()
for v in "${VS[@]}"; do
  name=${v%%:*}; args=${v#*:}
  names+=("$name")
  mkdir -p "$W/$name"
  dev=(); [ "${GPUS:-}" != cpu ] && dev=(CUDA_VISIBLE_DEVICES=$((i % (NG > 0 ? NG : 1))))
  # shellcheck disable=SC2086
  env "${dev[@]}" timeout "$LIMIT" python3 training/shapes/train_latent.py --out "$W/$name" --data "$W/train.npz" \
    --heldout "$W/heldout.npz" --ae-seconds "$AE" --prior-seconds "$PRIOR" --eval-seconds "$EVAL" --settings "$SETTINGS" \
    ${INIT:+--init "$INIT"} $EXTRA $args > "$W/$name/train.log" 2>&1 &
  pids+=($!)
  i=$((i + 1))
done
wait "${pids[@]}"
stamp "variants done"
if [ -n "${MERGE:-}" ]; then
  IFS=':' read -r md mp ms <<< "$MERGE"
  mkdir -p "$W/merged"
  python3 - "$W/$md/latent_ema.pt" "$W/$mp/latent_ema.pt" "$W/merged/init.pt" <<'EOF2'
import sys, torch
d, p = torch.load(sys.argv[1], map_location='cpu'), torch.load(sys.argv[2], map_location='cpu')
d['prior'], d['config']['prior'] = p['prior'], p['config']['prior']
torch.save(d, sys.argv[3])
EOF2
  # shellcheck disable=SC2086
  timeout "$LIMIT" python3 training/shapes/train_latent.py --out "$W/merged" --data "$W/train.npz" --heldout "$W/heldout.npz" \
    --init "$W/merged/init.pt" --prior-seconds 0 --ae-seconds 0 --skip-ae --eval-seconds "$EVAL" --diag= --settings "$ms" \
    > "$W/merged/train.log" 2>&1
  names+=(merged)
  stamp "merged scored"
fi
best=$(python3 - "$W" "${names[@]}" <<'EOF'
import json, os, sys
w, names = sys.argv[1], sys.argv[2:]
scores = []
for n in names:
    if not os.path.exists(f'{w}/{n}/unet.onnx'):  # score-only variants (--eval-only, --onestage) made no model
        continue
    try:
        r = [x for x in json.load(open(f'{w}/{n}/sweep.json'))['results'] if not x['setting'].startswith(('recon', 'trainlat'))]
        scores.append((min(x['mean']['nna'] for x in r), n))
    except Exception as e:
        print(n, 'no score:', e, file=sys.stderr)
for s, n in sorted(scores):
    print(f'{n} best 1-NNA {s * 100:.1f}%', file=sys.stderr)
print(sorted(scores)[0][1] if scores else names[0])
EOF
)
[ -n "${TAKE:-}" ] && best=$TAKE  # a recipe step that must continue with this variant, whatever scored best
stamp "best: $best"
cp "$W/$best/unet.onnx" "$W/$best/prior.onnx" "$OUT/" 2>/dev/null
split -b 15000000 -d "$W/$best/latent_ema.pt" "$OUT/latent_ema.pt.part" 2>/dev/null
echo "$best" > "$W/best.txt"
# sample clouds of the best variant only (all four made the archive pass 16 MiB)
(cd "$W" && tar czf "$OUT/logs.tar.gz" job.log best.txt ./*/train.log ./*/sweep.json ./*/train_log.json "./$best/samples.npz" 2>/dev/null)
ls -la "$OUT"
stamp "done"
