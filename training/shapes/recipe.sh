#!/bin/bash
# The shipped `shapes` model, from nothing, as the chain of runs that made it (fifth to seventh sessions). Each
# step is one device call of under 10 minutes on one GPU (the first step trained on 4 GPUs, one variant each;
# only its winner is kept here) and continues the previous step's EMA weights. The budgets are wall-clock
# seconds on an NVIDIA H100 80GB HBM3, so a rerun trains about as many steps, not the same ones; the step counts
# each run reached are in the comments, and models/shapes/MODEL_CARD.md has the scores.
#
# On the GPU machine, from the repository root, with training/data/shapes_meshes.json carried and, from step 2
# on, the previous step's weights (training/data/lat$((STEP-1))/latent_ema.pt):
#   STEP=1 OUT=$OUT bash training/shapes/recipe.sh
# Back here, put that step's weights where the next step looks for them (and its ONNX files beside them):
#   bash training/shapes/recipe.sh collect 1 /path/to/the/call/s/files
# After step 10, store the weights as float16 into the model folder (needs the onnx package):
#   bash training/shapes/recipe.sh ship
# CPU smoke test of the whole chain's plumbing (tiny networks, seconds a stage; DATA keeps it away from the real
# weights):  for s in $(seq 1 10); do DATA=/tmp/rd GPUS=cpu EXTRA=--tiny PER_CLASS=6 STEP=$s OUT=/tmp/ro$s \
#   bash training/shapes/recipe.sh && bash training/shapes/recipe.sh collect $s /tmp/ro$s; done   (DATA=/tmp/rd also for collect)
set -eu
HERE=$(dirname "$0")
D=${DATA:-training/data}
case "${1:-}" in
  collect)  # collect N FOLDER: the call's latent_ema.pt.part* -> $D/latN/latent_ema.pt, with its ONNX files
    mkdir -p "$D/lat$2"
    cat "$3"/latent_ema.pt.part* > "$D/lat$2/latent_ema.pt"
    cp "$3"/unet.onnx "$3"/prior.onnx "$D/lat$2/" 2>/dev/null || true
    exit 0 ;;
  ship)
    /usr/bin/python3 "$HERE/fp16_weights.py" "$D/lat10/unet.onnx" models/shapes/unet/model.onnx
    /usr/bin/python3 "$HERE/fp16_weights.py" "$D/lat10/prior.onnx" models/shapes/prior/model.onnx
    exit 0 ;;
esac
: "${STEP:?STEP=1..10}"
PREV=$D/lat$((STEP - 1))/latent_ema.pt
SCORE=heun:25:1.25:0/heun:25:1:5
job() { env "$@" SETTINGS="${SETTINGS:-$SCORE}" bash "$HERE/latent_job.sh"; }
case "$STEP" in
  # fifth session: autoencoder (encoder + point decoder) and a 1.30 M prior, together
  1) job AE=280 PRIOR=75 EVAL=100 LIMIT=560 VARIANTS="kl3:--kl 1e-3" ;;                        # 6 815 / 3 747 steps
  2) job AE=320 PRIOR=90 EVAL=70 LIMIT=565 VARIANTS="cont:--init $PREV" ;;                      # 7 275 / 4 840
  3) job AE=220 PRIOR=110 EVAL=75 LIMIT=490 VARIANTS="D:--init $PREV --prior-batch 4096" ;;     # 5 044 / 5 592 of 4096
  # sixth session: the decoder alone (the encoder frozen, so the latents stay), then a 3.69 M prior
  4) job AE=380 PRIOR=0 EVAL=120 LIMIT=550 INIT="$PREV" VARIANTS="T:--freeze-encoder --batch 256 --lr 2e-4" ;;  # 3 748 (GPU shared)
  5) job SHAPES_CHAMFER_ROWS=2 AE=300 PRIOR=300 EVAL=100 LIMIT=470 INIT="$PREV" \
       VARIANTS="D:--freeze-encoder --prior-seconds 0 --batch 256 --lr 1.5e-4;P:--skip-ae --fresh-prior --prior-width 192 --prior-depth 6 --prior-batch 4096" \
       MERGE="D:P:$SCORE" TAKE=merged ;;                                                                    # 2 010 / 2 970 (GPU shared 3 ways)
  6) job AE=0 PRIOR=400 EVAL=100 LIMIT=560 INIT="$PREV" VARIANTS="P2:--skip-ae --prior-batch 4096" ;;           # 6 892
  7) job AE=0 PRIOR=420 EVAL=100 LIMIT=560 INIT="$PREV" VARIANTS="P3:--skip-ae --prior-batch 4096 --prior-lr 4e-4" ;;  # 12 492
  # seventh session: the prior once more (its divergence guard stopped it at 8 000 and kept step 6 000), then
  # the decoder twice
  8) job AE=0 PRIOR=400 EVAL=100 LIMIT=570 INIT="$PREV" VARIANTS="P5:--skip-ae --prior-batch 4096 --prior-lr 2e-4" ;;  # 8 000
  9) job AE=390 PRIOR=0 EVAL=120 LIMIT=578 INIT="$PREV" VARIANTS="D2:--freeze-encoder --batch 256 --lr 1.5e-4 --diag trainlat" ;;  # 8 166
  10) job AE=330 PRIOR=0 EVAL=130 LIMIT=575 INIT="$PREV" VARIANTS="D3:--freeze-encoder --batch 256 --lr 1e-4 --diag trainlat" ;;  # 3 280 (GPU shared)
  *) echo "STEP must be 1..10" >&2; exit 2 ;;
esac
