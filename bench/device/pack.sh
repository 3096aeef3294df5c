#!/usr/bin/env bash
# Packs what the GPU machine's CPU benchmark (bench/device/e2e_job.sh) needs besides node and the models,
# as two tars (both git-ignored under .device/, to be carried):
#   .device/dk-runtime.tar.xz  package.json, the native addon (build/Release/diffusekit.node), dist/ (a fresh
#                              tsc build), esbuild bundles of bench/end-to-end.ts and bench/reference.ts
#                              (bench-dist/*.mjs: everything but onnxruntime-node / onnxruntime-common
#                              inside), bench/reference/loop.py and the torch modules it imports
#                              (training/{audio/unet.py,image/sd_modules.py,shapes/model.py}),
#                              node_modules/onnxruntime-{node,common} without binaries, MANIFEST.txt
#   .device/dk-ort.tar.xz      node_modules/onnxruntime-node/bin/napi-v6/linux/x64/{libonnxruntime.so.1,
#                              onnxruntime_binding.node} (rebuilt only when missing or older than the binaries)
# Both unpack into the same folder (bench/device/setup.sh does it: /tmp/dk).
#   bash bench/device/pack.sh            (about a minute on 2 cores; prints the sizes)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUTDIR=$ROOT/.device
mkdir -p "$OUTDIR"
NICE="nice -n 10"

ESBUILD=""
for c in node_modules/.bin/esbuild node_modules/esbuild/bin/esbuild node_modules/tsx/node_modules/.bin/esbuild; do
  if [ -x "$c" ]; then ESBUILD=$c; break; fi
done
[ -n "$ESBUILD" ] || { echo "pack: no esbuild under node_modules (npm install first)" >&2; exit 1; }
ADDON=build/Release/diffusekit.node
[ -f "$ADDON" ] || { echo "pack: $ADDON is missing (npm run build:native)" >&2; exit 1; }
PKGV=$(node -p "require('./package.json').version")
ADDV=$(node -p "require('./$ADDON').version")
[ "$PKGV" = "$ADDV" ] || { echo "pack: $ADDON is version $ADDV, package.json $PKGV (stale build)" >&2; exit 1; }
ORTBIN=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
for f in libonnxruntime.so.1 onnxruntime_binding.node; do
  [ -f "$ORTBIN/$f" ] || { echo "pack: $ORTBIN/$f is missing" >&2; exit 1; }
done

STAGE=$(mktemp -d /tmp/dk-pack.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

# the two benches as self-contained ES modules; onnxruntime stays external (its binding loads its
# binaries by relative path, and the bench's Tensor must be the one onnxruntime-node itself uses)
mkdir -p "$STAGE/bench-dist"
for f in end-to-end reference; do
  $NICE "$ESBUILD" "bench/$f.ts" --bundle --platform=node --format=esm --target=node20 --keep-names \
    --external:onnxruntime-node --external:onnxruntime-common --log-level=warning \
    --banner:js="import { createRequire as __dkCreateRequire } from 'node:module'; const require = __dkCreateRequire(import.meta.url);" \
    --outfile="$STAGE/bench-dist/$f.mjs"
done

# a fresh tsc build (not the checkout's dist/, which may be stale); the job does not need it
$NICE node_modules/.bin/tsc -p tsconfig.build.json --outDir "$STAGE/dist" --sourceMap false --declaration false

cp package.json "$STAGE/"
mkdir -p "$STAGE/build/Release" "$STAGE/bench/reference" "$STAGE/training/audio" "$STAGE/training/image" "$STAGE/training/shapes" "$STAGE/models"
cp "$ADDON" "$STAGE/build/Release/"
cp bench/reference/loop.py "$STAGE/bench/reference/"
cp training/audio/unet.py "$STAGE/training/audio/"
cp training/image/sd_modules.py "$STAGE/training/image/"
cp training/shapes/model.py "$STAGE/training/shapes/"
mkdir -p "$STAGE/node_modules/onnxruntime-node" "$STAGE/node_modules/onnxruntime-common"
cp node_modules/onnxruntime-node/package.json "$STAGE/node_modules/onnxruntime-node/"
cp -r node_modules/onnxruntime-node/dist "$STAGE/node_modules/onnxruntime-node/"
cp node_modules/onnxruntime-common/package.json "$STAGE/node_modules/onnxruntime-common/"
cp -r node_modules/onnxruntime-common/dist "$STAGE/node_modules/onnxruntime-common/"
# loaded at run time through createRequire (modalities/audio/wav.ts), so not inside the bundles
cp -r node_modules/wav-encoder "$STAGE/node_modules/"
find "$STAGE/node_modules" -name '*.map' -delete
{
  echo "diffusekit $PKGV device runtime, packed $(date -u +%FT%TZ)"
  echo "git $(git rev-parse HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (working tree has changes)')"
  echo "node used to pack: $(node --version); esbuild $("$ESBUILD" --version)"
  (cd "$STAGE" && sha256sum bench-dist/*.mjs build/Release/diffusekit.node bench/reference/loop.py training/*/*.py)
} > "$STAGE/MANIFEST.txt"

tar -C "$STAGE" --owner=0 --group=0 -cf - . | $NICE xz -T2 -6 > "$OUTDIR/dk-runtime.tar.xz"

ORT_TAR=$OUTDIR/dk-ort.tar.xz
if [ ! -f "$ORT_TAR" ] || [ "$ORTBIN/libonnxruntime.so.1" -nt "$ORT_TAR" ] || [ "$ORTBIN/onnxruntime_binding.node" -nt "$ORT_TAR" ]; then
  tar -C "$ROOT" --owner=0 --group=0 -cf - "$ORTBIN/libonnxruntime.so.1" "$ORTBIN/onnxruntime_binding.node" | $NICE xz -T2 -9 > "$ORT_TAR.tmp"
  mv "$ORT_TAR.tmp" "$ORT_TAR"
fi

echo "contents of dk-runtime.tar.xz:"
sed 's/^/  /' "$STAGE/MANIFEST.txt"
ls -l "$OUTDIR"/dk-runtime.tar.xz "$OUTDIR"/dk-ort.tar.xz "$OUTDIR"/node.xz 2>/dev/null | awk '{printf "%10.2f MiB  %s\n", $5 / 1048576, $9}'
for m in speech music emoji shapes; do
  [ -d "models/$m" ] && printf '%10.2f MiB  models/%s (folder)\n' "$(du -sbL "models/$m" | awk '{print $1 / 1048576}')" "$m"
done
exit 0
