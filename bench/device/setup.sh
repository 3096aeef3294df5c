#!/usr/bin/env bash
# Assembles (or completes) a runnable diffusekit tree for bench/device/e2e_job.sh, from the repository root of
# the device machine's copy. Additive and idempotent: run it in every call, with whatever that call carried.
#   DK=/tmp/dk (default)     the tree: package.json, build/Release, bench-dist, node_modules, models/<name>, bin/node
#   RUNTIME_TAR, ORT_TAR     default .device/dk-runtime.tar.xz, .device/dk-ort.tar.xz (bench/device/pack.sh); each
#                            is unpacked into $DK when present
#   NODE_XZ                  default .device/node.xz: unpacked to $DK/bin/node when present and $DK/bin/node is not
#   MODELS                   ':'-separated folders, each a model folder (with diffusekit.json) or a folder of them;
#                            default .device/models. Each model folder found is copied to $DK/models/<name>
#                            (replacing an earlier copy), so that it outlives the call that carried it. <name> is
#                            the "name" of its diffusekit.json (the benches look models up by it: a folder
#                            emoji/emoji-phase1 holding "name": "emoji" becomes models/emoji); the folder's own
#                            name when diffusekit.json has none or it is not a plain file name. Read with
#                            python3, else node ($DK/bin/node or PATH), else the folder name. Of two folders with
#                            one name, the later in MODELS wins.
# Dry run without a GPU machine: DK=/tmp/dk-try MODELS=models bash bench/device/setup.sh (it lists what is missing).
# Prints what the tree has and what it still lacks; exit status 0 when node, addon, onnxruntime and at least
# one model are there.
set -u
DK=${DK:-/tmp/dk}
RUNTIME_TAR=${RUNTIME_TAR:-.device/dk-runtime.tar.xz}
ORT_TAR=${ORT_TAR:-.device/dk-ort.tar.xz}
NODE_XZ=${NODE_XZ:-.device/node.xz}
MODELS=${MODELS:-.device/models}
mkdir -p "$DK/models" "$DK/bin"

for t in "$RUNTIME_TAR" "$ORT_TAR"; do
  if [ -f "$t" ]; then
    if xz -dc "$t" | tar -C "$DK" -xf - --no-same-owner; then echo "setup: unpacked $t into $DK"; else echo "setup: FAILED to unpack $t"; fi
  fi
done
if [ -f "$NODE_XZ" ] && [ ! -x "$DK/bin/node" ]; then
  if xz -dc "$NODE_XZ" > "$DK/bin/node.tmp" && chmod +x "$DK/bin/node.tmp" && mv "$DK/bin/node.tmp" "$DK/bin/node"; then
    echo "setup: unpacked $NODE_XZ to $DK/bin/node"
  else
    echo "setup: FAILED to unpack $NODE_XZ"
  fi
fi

model_name() { # a model folder -> the "name" of its diffusekit.json, else the folder's name
  local src=$1 n="" nodebin
  local json=$src/diffusekit.json
  if command -v python3 > /dev/null 2>&1; then
    n=$(python3 -c 'import json, sys
v = json.load(open(sys.argv[1])).get("name")
print(v if isinstance(v, str) else "")' "$json" 2> /dev/null)
  else
    nodebin=$DK/bin/node
    [ -x "$nodebin" ] || nodebin=$(command -v node 2> /dev/null)
    if [ -n "$nodebin" ]; then
      n=$("$nodebin" -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).name
console.log(typeof v === "string" ? v : "")' "$json" 2> /dev/null)
    fi
  fi
  # only a plain file name may become a folder under $DK/models
  case $n in
    '' | . | .. | *[!A-Za-z0-9._-]*) n=$(basename "$src") ;;
  esac
  echo "$n"
}

copy_model() { # a model folder -> $DK/models/<its diffusekit.json name>
  local src=$1 name
  name=$(model_name "$src")
  rm -rf "$DK/models/$name.tmp"
  if cp -rL "$src" "$DK/models/$name.tmp"; then
    rm -rf "$DK/models/$name" && mv "$DK/models/$name.tmp" "$DK/models/$name"
    echo "setup: model $name from $src ($(du -sh "$DK/models/$name" | cut -f1))$([ "$name" = "$(basename "$src")" ] || echo ", named by its diffusekit.json")"
  else
    echo "setup: FAILED to copy model $src"
  fi
}
IFS=: read -r -a dirs <<< "$MODELS"
for d in "${dirs[@]}"; do
  [ -n "$d" ] && [ -d "$d" ] || continue
  if [ -f "$d/diffusekit.json" ]; then
    copy_model "${d%/}"
  else
    for m in "$d"/*/; do
      [ -f "$m/diffusekit.json" ] && copy_model "${m%/}"
    done
  fi
done

ok=1
have() { if [ -e "$1" ]; then echo "  ok       $2"; else echo "  MISSING  $2 ($1)"; ok=0; fi; }
echo "setup: $DK now has:"
have "$DK/bin/node" "node (bin/node; or pass NODE=...)"
have "$DK/package.json" "package.json"
have "$DK/build/Release/diffusekit.node" "native addon"
have "$DK/bench-dist/end-to-end.mjs" "bench bundles"
have "$DK/node_modules/onnxruntime-node/dist/index.js" "onnxruntime-node (js)"
have "$DK/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" "onnxruntime-node linux-x64 binaries"
n=0
for m in speech music emoji shapes; do
  if [ -f "$DK/models/$m/unet/model.onnx" ]; then echo "  ok       models/$m"; n=$((n + 1)); else echo "  missing  models/$m"; fi
done
[ "$n" -gt 0 ] || ok=0
[ "$ok" = 1 ]
