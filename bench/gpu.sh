#!/usr/bin/env bash
# One prepared GPU benchmark: the d16-shape bundle (random weights) on our engine per provider and precision,
# beside the PyTorch reference on CUDA, as one table (bench/gpu_table.py). bench/RESULTS.md explains the columns.
#
#   bench/gpu.sh                          normal machine with an NVIDIA GPU, internet, node + npm:
#                                         installs onnxruntime-node's CUDA 12 libraries (need CUDA 12 + cuDNN 9),
#                                         runs cuda (fp32, fp16), cpu (fp32, int8) and the reference on cuda
#   bench/gpu.sh --prepare                on the build machine: writes bench/dist/engine_worker.mjs (the worker
#                                         as one file, for a machine without npm/tsx); nothing else
#   bench/gpu.sh --offline NODE_BINARY    machine without internet/npm: uses that node, the carried
#                                         node_modules/onnxruntime-node and bench/dist/engine_worker.mjs;
#                                         runs webgpu (Vulkan; fp32, fp16), cpu (fp32, int8), reference on cuda
# options: --bundle DIR (use this bundle, build nothing) · --work DIR (default /tmp/var-gpu-bench) ·
#          --runs N (timed runs per row, default 2) · --providers a,b (override) · --precisions a,b ·
#          --no-reference · --dry-run (print the plan and the commands, run nothing heavy)
# Offline Vulkan: VULKAN_LIB_DIR=dir-with-libvulkan.so.1 is put on LD_LIBRARY_PATH; VK_ICD_FILENAMES defaults
# to /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json when that file exists.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE=normal NODE=node BUNDLE='' WORK=/tmp/var-gpu-bench RUNS=2 PROVIDERS='' PRECISIONS='' REFERENCE=1 DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --offline) MODE=offline; NODE="${2:?--offline needs the path of a node binary}"; shift ;;
    --prepare) MODE=prepare ;;
    --bundle) BUNDLE="${2:?}"; shift ;;
    --work) WORK="${2:?}"; shift ;;
    --runs) RUNS="${2:?}"; shift ;;
    --providers) PROVIDERS="${2:?}"; shift ;;
    --precisions) PRECISIONS="${2:?}"; shift ;;
    --no-reference) REFERENCE=0 ;;
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
PY=${PYTHON:-python3}
WORKER="$ROOT/bench/dist/engine_worker.mjs"
say() { echo "[gpu.sh $(date +%H:%M:%S)] $*" >&2; }
run() { say "+ $*"; if [ "$DRY" = 1 ]; then return 0; fi; "$@"; }

build_worker() {
  run "$ROOT/node_modules/.bin/esbuild" "$ROOT/bench/engine_worker.ts" --bundle --platform=node --format=esm \
    --target=node18 --external:onnxruntime-node --outfile="$WORKER" \
    "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
}

if [ "$MODE" = prepare ]; then build_worker; exit $?; fi

# ---- what this machine has
"$NODE" --version >/dev/null 2>&1 || { echo "gpu.sh: node binary '$NODE' does not run" >&2; exit 2; }
[ -d "$ROOT/node_modules/onnxruntime-node" ] || [ "$MODE" = normal ] || {
  echo "gpu.sh: $ROOT/node_modules/onnxruntime-node is missing (carry it: bin/napi-v6/linux/x64 + dist + lib + package.json)" >&2; exit 2; }
GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
say "mode $MODE · node $("$NODE" --version) · GPU: ${GPU_NAME:-none found} · $(nproc) CPUs"

if [ "$MODE" = normal ]; then
  # npm ci skips onnxruntime-node's install script (package.json allowScripts); run it for the CUDA 12 libraries
  [ -d "$ROOT/node_modules" ] || run npm ci --no-audit --no-fund
  ( cd "$ROOT/node_modules/onnxruntime-node" && run env ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js ) ||
    say "onnxruntime-node CUDA libraries not installed (the cuda rows will fall back and say so)"
  build_worker || exit 1
  : "${PROVIDERS:=cuda,cpu}"
else
  [ -f "$WORKER" ] || { echo "gpu.sh: $WORKER is missing: run bench/gpu.sh --prepare on the build machine and carry bench/dist" >&2; exit 2; }
  ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$ICD" ]; then export VK_ICD_FILENAMES="$ICD"; fi
  if [ -n "${VULKAN_LIB_DIR:-}" ]; then export LD_LIBRARY_PATH="$VULKAN_LIB_DIR:${LD_LIBRARY_PATH:-}"; fi
  : "${PROVIDERS:=webgpu,cpu}"
fi

# ---- the bundle
mkdir -p "$WORK"
if [ -z "$BUNDLE" ]; then
  BUNDLE="$WORK/d16"
  if [ ! -f "$BUNDLE/manifest.json" ]; then
    if [ -f "$ROOT/resources/graph-templates/var-d16-c1024-256/template.json" ]; then
      run "$PY" "$ROOT/tools/bundle_from_templates.py" --var var-d16-c1024-256 --vae vae-ch160-v4096-z32-256 --out "$BUNDLE" || exit 1
    else
      say "no graph templates (resources/graph-templates): exporting with torch (tools/make_shaped_bundle.py, minutes)"
      run "$PY" "$ROOT/tools/make_shaped_bundle.py" --preset d16 --out "$BUNDLE" --threads "$(nproc)" || {
        echo "gpu.sh: could not build the d16 bundle: neither graph templates nor a working torch.onnx exporter" >&2; exit 1; }
    fi
  fi
fi
# variants the rows need (fp16 for GPUs, int8 for the CPU)
NEED=""
for p in fp16 int8; do
  if ! grep -q "\"transformer.$p.onnx\"" "$BUNDLE/manifest.json" 2>/dev/null; then NEED="$NEED${NEED:+,}$p"; fi
done
if [ -n "$NEED" ]; then ( cd "$ROOT/tools" && run "$PY" quantize_bundle.py "$BUNDLE" --precision "$NEED" ) || say "variants $NEED not made"; fi

# ---- engine rows: provider × precision
OUT="$WORK/results.jsonl"
[ "$DRY" = 1 ] || : > "$OUT"
row() { # provider precision
  local prov=$1 prec=$2 mem="$WORK/mem-$1-$2.txt" pid='' threads=()
  [ "$prov" = cpu ] && threads=(--threads "$(nproc)")
  if [ "$prov" != cpu ] && command -v nvidia-smi >/dev/null && [ "$DRY" = 0 ]; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$mem" 2>/dev/null & pid=$!
  fi
  say "+ $NODE $WORKER --model $BUNDLE --provider $prov --precision $prec --runs $RUNS ${threads[*]}"
  if [ "$DRY" = 0 ]; then
    local base; base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
    local json; json=$(timeout 300 "$NODE" "$WORKER" --model "$BUNDLE" --provider "$prov" --precision "$prec" --runs "$RUNS" "${threads[@]}" 2> "$WORK/err-$prov-$prec.txt" | tail -1)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    local peak=null
    if [ -s "$mem" ] && [ -n "$base" ]; then peak=$(sort -n "$mem" | tail -1); peak=$((peak - base)); fi
    if [ -n "$json" ]; then
      echo "{\"row\":\"engine\",\"asked\":\"$prov\",\"askedPrecision\":\"$prec\",\"gpuMemMb\":$peak,\"result\":$json}" >> "$OUT"
    else
      local err; err=$(tail -1 "$WORK/err-$prov-$prec.txt" | tr '"\\' "'/")
      echo "{\"row\":\"engine\",\"asked\":\"$prov\",\"askedPrecision\":\"$prec\",\"error\":\"$err\"}" >> "$OUT"
    fi
  fi
}
for prov in ${PROVIDERS//,/ }; do
  precs=${PRECISIONS:-$([ "$prov" = cpu ] && echo fp32,int8 || echo fp32,fp16)}
  for prec in ${precs//,/ }; do row "$prov" "$prec"; done
done

# ---- the PyTorch reference on CUDA (CPU when torch sees no GPU)
if [ "$REFERENCE" = 1 ]; then
  dev=cuda
  "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null || dev=cpu
  say "+ $PY tools/bench_reference.py --bundle $BUNDLE --device $dev --runs $RUNS --json $WORK/reference.json"
  if [ "$DRY" = 0 ]; then
    rm -f "$WORK/reference.json"
    ( cd "$ROOT/tools" && timeout 300 "$PY" bench_reference.py --bundle "$BUNDLE" --device "$dev" --runs "$RUNS" \
        --threads "$(nproc)" --openblas-threads 1 --json "$WORK/reference.json" > /dev/null 2> "$WORK/err-reference.txt" ) ||
      say "reference failed: $(tail -1 "$WORK/err-reference.txt")"
  fi
fi

[ "$DRY" = 1 ] && { say "dry run: nothing measured"; exit 0; }
"$PY" "$ROOT/bench/gpu_table.py" "$OUT" --reference "$WORK/reference.json" --reference-error "$WORK/err-reference.txt" --gpu "${GPU_NAME:-none}"
