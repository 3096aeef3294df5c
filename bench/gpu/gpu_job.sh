#!/usr/bin/env bash
# The whole GPU run in one command (tool `run`): GPU checks, CUDA kernel timings on device buffers,
# the PyTorch eager baseline, the SASS check, compute-sanitizer memcheck + racecheck.
# Carried: .device (node.xz), build/gpu-addon/diffusekit.node (built on the dev machine with
# DIFFUSEKIT_CUDA_ARCHITECTURES=90, or build/Release with sm_75..sm_90), build/gpu-dist (tsc of src/native), node_modules/node-addon-api, node_modules/node-api-headers.
set -u
OUT=${OUT:-/tmp/dk-out}
mkdir -p "$OUT"
log="$OUT/log.txt"
exec > >(tee -a "$log") 2>&1
export PYTHONUNBUFFERED=1
t0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - t0 ))s] $*"; }
xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node
NODE=/tmp/node
stamp "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv | tee "$OUT/gpu.txt"
nproc; $NODE --version
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1 || true)
OBJ=$(command -v cuobjdump || ls /usr/local/cuda*/bin/cuobjdump 2>/dev/null | head -1 || true)
echo "compute-sanitizer: ${CS:-none}  cuobjdump: ${OBJ:-none}"

stamp "addon"
# a build made for this run (carried as build/gpu-addon) replaces whatever build/Release holds
if [ -f build/gpu-addon/diffusekit.node ]; then mkdir -p build/Release && cp build/gpu-addon/diffusekit.node build/Release/diffusekit.node; fi
if ! $NODE -e "const m=require('./build/Release/diffusekit.node'); const i=m.info(); console.log(JSON.stringify(i)); if(!i.cudaAvailable) process.exit(3)"; then
  stamp "carried addon unusable here: building with sm_90"
  cmake -S . -B /tmp/dkb -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 > /tmp/build.txt 2>&1 && cmake --build /tmp/dkb -j 16 >> /tmp/build.txt 2>&1 && cp /tmp/dkb/diffusekit.node build/Release/diffusekit.node
  tail -5 /tmp/build.txt
fi

stamp "GPU checks"
timeout 90 $NODE bench/gpu/run-gpu-checks.mjs --checks > "$OUT/checks.txt" 2>&1; echo "checks rc $?"
cat "$OUT/checks.txt"

stamp "CUDA kernel timings"
timeout 90 $NODE bench/gpu/run-gpu-checks.mjs --bench --json "$OUT/cuda-bench.json" 2>&1 | tail -60

stamp "PyTorch eager"
timeout 100 python3 bench/gpu/torch_eager.py --json "$OUT/torch-bench.json" 2>&1 | tail -60

stamp "SASS"
if [ -n "$OBJ" ]; then
  timeout 40 "$OBJ" -sass -arch sm_90 build/Release/diffusekit.node > /tmp/sass.txt 2>&1
  python3 - <<'PY' > "$OUT/sass-summary.txt"
import re
text = open('/tmp/sass.txt').read()
parts = re.split(r'\n\s*Function : ', text)
for p in parts[1:]:
    name = p.split('\n', 1)[0].strip()
    if 'dk4cuda' not in name: continue
    short = re.sub(r'_ZN2dk4cuda\w*?_GLOBAL__N__\w+?_\d+_cuda_kernels_cu_\w+?\d+', '', name)[:60]
    print(f"{short:60s} LDG.E.128={len(re.findall(r'LDG\.E\.128', p)):3d} STG.E.128={len(re.findall(r'STG\.E\.128', p)):3d} LDG.E={len(re.findall(r'LDG\.E[ .]', p)) - len(re.findall(r'LDG\.E\.128', p)):3d} LDL/STL={len(re.findall(r'\b(LDL|STL)', p))} FFMA={len(re.findall(r'\bFFMA\b', p))}")
PY
  head -120 "$OUT/sass-summary.txt"
fi

if [ -n "$CS" ]; then
  stamp "compute-sanitizer memcheck"
  timeout 110 "$CS" --tool memcheck --leak-check full --error-exitcode 9 $NODE bench/gpu/run-gpu-checks.mjs --checks --small > "$OUT/memcheck.txt" 2>&1; echo "memcheck rc $?"
  tail -8 "$OUT/memcheck.txt"
  stamp "compute-sanitizer racecheck"
  timeout 110 "$CS" --tool racecheck --error-exitcode 9 $NODE bench/gpu/run-gpu-checks.mjs --checks --small > "$OUT/racecheck.txt" 2>&1; echo "racecheck rc $?"
  tail -8 "$OUT/racecheck.txt"
fi
stamp "done"
