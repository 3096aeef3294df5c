#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer (build/sanitize/Release) and runs
# the native test files against it. Usage: native/run-sanitized.sh [test files...]
# Node itself is not instrumented: libasan is preloaded, leak detection is off (V8 keeps memory to
# exit), and any ASan/UBSan report aborts the run with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."
DIFFUSEKIT_SANITIZE=1 DIFFUSEKIT_NO_CUDA="${DIFFUSEKIT_NO_CUDA:-1}" node scripts/build-native.mjs
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
files=("$@")
if [ ${#files[@]} -eq 0 ]; then files=(test/native-philox.test.ts test/native-guidance.test.ts test/native-step.test.ts test/native-errors.test.ts); fi
export DIFFUSEKIT_ADDON="$PWD/build/sanitize/Release/diffusekit.node"
export LD_PRELOAD="$asan $ubsan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for f in "${files[@]}"; do
  echo "== $f (ASan+UBSan addon)"
  # run the file directly under node + tsx: tap's own process tree would also inherit LD_PRELOAD
  node --import tsx "$f" > /tmp/dk-sanitize.log 2>&1 || status=$?
  grep -E "^# \{|^not ok|ERROR: AddressSanitizer|runtime error:" /tmp/dk-sanitize.log || true
  tail -n 3 /tmp/dk-sanitize.log
  [ "$status" -eq 0 ] || { echo "FAILED: $f (status $status)"; exit "$status"; }
done
echo "sanitized native tests: clean"
