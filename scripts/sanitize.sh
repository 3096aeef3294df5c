#!/usr/bin/env bash
# Runs the native test suite and the native fuzz scenarios against an AddressSanitizer + UBSan build
# of the addon. Usage: scripts/sanitize.sh [--skip-build]
#
# - The build goes through the one documented switch, `DIFFUSEKIT_SANITIZE=1 npm run build:native`, which
#   writes build/sanitize/Release/diffusekit.node and leaves the normal build/Release addon alone (checked
#   below by checksum; if it ever changes, the normal build is rebuilt).
# - Node itself is not instrumented: the ASan runtime is LD_PRELOADed, leak detection is off (V8 keeps
#   memory until exit by design), and the first ASan/UBSan report aborts the run with a non-zero status.
# - DIFFUSEKIT_ADDON points the loader at the sanitizer build; CUDA is left out of it (no GPU here, and
#   ASan does not instrument device code; compute-sanitizer covers that on the GPU machine).
set -uo pipefail
cd "$(dirname "$0")/.."
normal=build/Release/diffusekit.node
before=$( [ -f "$normal" ] && sha256sum "$normal" | cut -d' ' -f1 || echo none)
if [ "${1:-}" != "--skip-build" ]; then
  DIFFUSEKIT_SANITIZE=1 DIFFUSEKIT_NO_CUDA="${DIFFUSEKIT_NO_CUDA:-1}" npm run build:native || { echo "sanitizer build failed"; exit 1; }
fi
after=$( [ -f "$normal" ] && sha256sum "$normal" | cut -d' ' -f1 || echo none)
if [ "$before" != "$after" ]; then
  echo "the normal addon changed during the sanitizer build: rebuilding it"
  npm run build:native || exit 1
fi
addon="$PWD/build/sanitize/Release/diffusekit.node"
[ -f "$addon" ] || { echo "no sanitizer build at $addon"; exit 1; }
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
log=$(mktemp -d /tmp/dk-sanitize.XXXXXX)
export DIFFUSEKIT_ADDON="$addon"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# instrumented runs are several times slower: no per-file tap timeout (a hang still shows as no progress)
export TAP_TIMEOUT=0
status=0
run() { # name, command...
  local name=$1; shift
  echo "== $name"
  LD_PRELOAD="$asan $ubsan" "$@" > "$log/$name.log" 2>&1
  local rc=$?
  grep -E "^# \{|^not ok|ERROR: AddressSanitizer|runtime error:|SUMMARY:" "$log/$name.log" | head -20
  if [ $rc -ne 0 ] || grep -qE "ERROR: AddressSanitizer|runtime error:" "$log/$name.log"; then
    echo "FAILED: $name (status $rc; log $log/$name.log)"; tail -n 30 "$log/$name.log"; status=1
  else
    echo "clean: $name"
  fi
}
only=${DK_SANITIZE_ONLY:-}
# the native test files, run directly (not through tap, whose own process tree would inherit LD_PRELOAD)
for f in test/native-philox.test.ts test/native-guidance.test.ts test/native-step.test.ts test/native-errors.test.ts test/audio-griffin-lim.test.ts; do
  [ -f "$f" ] || continue
  [ -n "$only" ] && [[ "$f" != *"$only"* ]] && continue
  run "$(basename "$f" .test.ts)" node --import tsx "$f"
done
# the hostile-call scenarios of test/native-fuzz.test.ts, more calls than CI runs
for s in random template detach; do
  [ -n "$only" ] && [[ "fuzz-$s" != *"$only"* ]] && continue
  run "fuzz-$s" node --expose-gc --import tsx test/helpers/native-fuzz-child.ts "$s" 11 ${DK_SANITIZE_CALLS:-6000}
done
# known crash (worker terminated mid-kernel): reported, not counted, until native/job.h handles env teardown
if [ "${DK_SANITIZE_WORKER:-0}" = 1 ]; then run fuzz-worker node --expose-gc --import tsx test/helpers/native-fuzz-child.ts worker 11 2000; fi
echo "logs: $log"
[ $status -eq 0 ] && echo "sanitized native tests: clean" || echo "sanitized native tests: FAILURES"
exit $status
