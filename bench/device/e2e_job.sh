#!/usr/bin/env bash
# Issue 8 on the GPU machine's CPU, unattended: (1) bench/end-to-end (where the time goes) and (2) bench/reference
# (this SDK vs Python onnxruntime vs PyTorch, same weights / sampler / steps / threads) for speech, music,
# emoji and shapes, every process pinned to the same cores. Run from the repository root of the device copy:
#   OUT=$OUT bash bench/device/e2e_job.sh
# It first runs bench/device/setup.sh (unpacks whatever .device/ tars / models this call carried into $DK).
# Dry run on the dev VM (after bash bench/device/pack.sh): DK=/tmp/dk-try OUT=/tmp/dk-try-out MODELS=models CORES=0-1
#   THREADS=2 BUDGET=150 BENCH_REPS=1 JOB_MODELS=emoji JOB_PHASES=e2e bash bench/device/e2e_job.sh   (~10 s)
# Environment (defaults):
#   NODE=$DK/bin/node   CORES=0-15 (taskset list)   THREADS=16 (onnxruntime intra-op, torch, native addon)
#   OUT=/tmp/dk-out (summary.md, results.json, log.txt)   BENCH_REPS=3   BUDGET=400 (s of wall time, all in)
#   PYTHON=python3 (with torch, onnx, onnxruntime, numpy; PYTHON_ORT / PYTHON_TORCH override it per side)
#   DK=/tmp/dk   MODELS=.device/models (for setup.sh)
#   JOB_MODELS="speech music emoji shapes"   JOB_PHASES="e2e ref"
# Order and budget: end-to-end for all models first (until 40% of the budget), then the reference per model
# (shares of what is left weighted 1:1:1.5:3 toward shapes, at least 20 s each), 25 s kept for the summary; each process gets a deadline (fewer
# repetitions, then skipped sides) and a hard timeout 30 s past it. What did not fit is listed in summary.md.
set -u
T0=$(date +%s)
DK=${DK:-/tmp/dk}
CORES=${CORES:-0-15}
THREADS=${THREADS:-16}
OUT=${OUT:-/tmp/dk-out}
BENCH_REPS=${BENCH_REPS:-3}
BUDGET=${BUDGET:-400}
PYTHON=${PYTHON:-python3}
PYTHON_ORT=${PYTHON_ORT:-$PYTHON}
PYTHON_TORCH=${PYTHON_TORCH:-$PYTHON}
JOB_MODELS=${JOB_MODELS:-speech music emoji shapes}
JOB_PHASES=${JOB_PHASES:-e2e ref}
REPO=$PWD
mkdir -p "$OUT"
LOG=$OUT/log.txt
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
stamp() { echo "== [$(($(date +%s) - T0))s] $*"; }

stamp "setup"
DK=$DK bash "$REPO/bench/device/setup.sh" || echo "setup: incomplete (see above); going on with what is there"
NODE=${NODE:-$DK/bin/node}
RUN=$DK/run
rm -rf "$RUN"
mkdir -p "$RUN"

# every process pinned to CORES (children inherit the affinity)
if command -v taskset > /dev/null 2>&1; then
  PIN=(taskset -c "$CORES")
else
  PIN=("$PYTHON" -c 'import os, sys
c = set()
for p in sys.argv[1].split(","):
    a, _, b = p.partition("-")
    c.update(range(int(a), int(b or a) + 1))
os.sched_setaffinity(0, c)
os.execvp(sys.argv[2], sys.argv[2:])' "$CORES")
fi

stamp "machine"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host CPUs (nproc --all): $(nproc --all 2>/dev/null); online: $(nproc 2>/dev/null)"
  echo "pinned: taskset -c $CORES -> nproc $("${PIN[@]}" nproc 2>/dev/null)"
  echo "cpu model: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
  lscpu 2>/dev/null | grep -E '^(Socket\(s\)|Core\(s\) per socket|Thread\(s\) per core|NUMA node\(s\)|L3 cache)' | sed 's/  */ /g'
  # which physical cores the pinned CPUs are (siblings would share one)
  if lscpu -p=CPU,CORE,SOCKET,NODE > /dev/null 2>&1; then
    "$PYTHON" - "$CORES" <<'PY'
import subprocess, sys
want = set()
for p in sys.argv[1].split(","):
    a, _, b = p.partition("-")
    want.update(range(int(a), int(b or a) + 1))
rows = [l.split(",") for l in subprocess.run(["lscpu", "-p=CPU,CORE,SOCKET,NODE"], capture_output=True, text=True).stdout.splitlines() if l and l[0] != "#"]
mine = [r for r in rows if int(r[0]) in want]
print(f"pinned CPUs: {len(mine)} on {len({(r[2], r[1]) for r in mine})} physical cores, sockets {sorted({r[2] for r in mine})}, NUMA nodes {sorted({r[3] for r in mine})}")
PY
  fi
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "node: $("$NODE" --version 2>&1)"
  echo "onnxruntime-node: $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$DK/node_modules/onnxruntime-node/package.json" 2>/dev/null | head -1)"
  for py in $(printf '%s\n' "$PYTHON_ORT" "$PYTHON_TORCH" | sort -u); do
  echo "python ($py): $("$py" -c 'import sys, numpy, importlib
v = []
for m in ("torch", "onnxruntime", "onnx"):
    try:
        v.append(f"{m} {importlib.import_module(m).__version__}")
    except Exception as e:
        v.append(f"{m} missing ({type(e).__name__})")
print(sys.version.split()[0], "numpy", numpy.__version__, ", ".join(v))' 2>&1)"
  done
  echo "native addon: $(cd "$DK" && "$NODE" -e "const a = require('./build/Release/diffusekit.node'); const i = a.info(); console.log(JSON.stringify({ version: i.version, simd: i.simd, threads: i.threads, cudaCompiled: i.cudaCompiled }))" 2>&1)"
  if command -v nvidia-smi > /dev/null 2>&1; then
    echo "GPUs (other processes train on them during this run, pinned to other cores):"
    nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used --format=csv,noheader 2>&1 | sed 's/^/  /'
  fi
  # how busy the pinned cores and the others are right now (1 s of /proc/stat)
  "$PYTHON" - "$CORES" <<'PY'
import sys, time
want = set()
for p in sys.argv[1].split(","):
    a, _, b = p.partition("-")
    want.update(range(int(a), int(b or a) + 1))
def snap():
    r = {}
    for l in open("/proc/stat"):
        if l.startswith("cpu") and l[3].isdigit():
            f = l.split()
            v = list(map(int, f[1:]))
            r[int(f[0][3:])] = (sum(v) - v[3] - (v[4] if len(v) > 4 else 0), sum(v))
    return r
a = snap(); time.sleep(1); b = snap()
def busy(ids):
    ids = [i for i in ids if i in a and i in b]
    d = [(b[i][0] - a[i][0], b[i][1] - a[i][1]) for i in ids]
    return 100 * sum(x for x, _ in d) / max(1, sum(y for _, y in d)), len(ids)
m, nm = busy(want)
o, no = busy(set(a) - want)
print(f"busy over 1 s before the run: pinned CPUs {m:.0f}% ({nm}), other CPUs {o:.0f}% ({no})")
PY
  echo "settings: THREADS=$THREADS BENCH_REPS=$BENCH_REPS BUDGET=${BUDGET}s models: $JOB_MODELS phases: $JOB_PHASES"
} | tee "$RUN/machine.txt"

END=$((T0 + BUDGET - 25))
E2E_END=$((T0 + BUDGET * 40 / 100))
[ "$E2E_END" -gt "$END" ] && E2E_END=$END
SKIPPED=$RUN/skipped.txt
: > "$SKIPPED"
common_env=(BENCH_REPS="$BENCH_REPS" BENCH_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" BENCH_MODELS_DIR="$DK/models")

run_pinned() { # deadline name cmd...: the command pinned, with a hard timeout 30 s past the deadline
  local deadline=$1 name=$2
  shift 2
  local left=$((deadline - $(date +%s)))
  if [ "$left" -lt 5 ]; then
    echo "$name: skipped, time budget spent" | tee -a "$SKIPPED"
    return 0
  fi
  stamp "$name (deadline in ${left}s)"
  (cd "$DK" && env "${common_env[@]}" BENCH_DEADLINE="$deadline" timeout -k 5 $((left + 30)) "${PIN[@]}" "$@")
  local rc=$?
  [ "$rc" = 0 ] || echo "$name: exit status $rc$([ "$rc" = 124 ] || [ "$rc" = 137 ] && echo ' (hard timeout)')" | tee -a "$SKIPPED"
}

if [[ " $JOB_PHASES " == *" e2e "* ]]; then
  for m in $JOB_MODELS; do
    BENCH_MODELS=$m BENCH_JSON=$RUN/e2e-$m.json run_pinned "$E2E_END" "end-to-end $m" "$NODE" "$DK/bench-dist/end-to-end.mjs"
  done
fi

if [[ " $JOB_PHASES " == *" ref "* ]]; then
  weight() { case $1 in emoji) echo 3 ;; shapes) echo 6 ;; *) echo 2 ;; esac; }
  remaining=""
  for m in $JOB_MODELS; do remaining="$remaining $m"; done
  for m in $JOB_MODELS; do
    total=0
    for r in $remaining; do total=$((total + $(weight "$r"))); done
    now=$(date +%s)
    share=$(((END - now) * $(weight "$m") / total))
    # at least 20 s (or what is left): a cheap model should not starve for a costly one's share
    floor=$((END - now < 20 ? END - now : 20))
    dl=$((now + (share > floor ? share : floor)))
    BENCH_MODELS=$m BENCH_JSON=$RUN/ref-$m.json BENCH_PYTHON_ORT=$PYTHON_ORT BENCH_PYTHON_TORCH=$PYTHON_TORCH \
      BENCH_TRAINING=$([ -f "$REPO/training/shapes/model.py" ] && echo "$REPO/training" || echo "$DK/training") \
      run_pinned "$dl" "reference $m" "$NODE" "$DK/bench-dist/reference.mjs"
    remaining=${remaining/ $m/}
  done
fi

stamp "summary"
"$PYTHON" "$REPO/bench/device/summarize.py" "$RUN" "$OUT" $((BUDGET)) $(($(date +%s) - T0)) || echo "summary failed"
stamp "done ($(($(date +%s) - T0)) s)"
# let tee write the log's last lines before the call collects $OUT
exec 1>&- 2>&-
sleep 1
