#!/usr/bin/env bash
# The GPU check, prepared here and run on a GPU machine that has CUDA, PyTorch (its libtorch) and
# NCCL but no .NET (docs/running.md, "GPUs"). Two halves:
#
#   scripts/device-check.sh prepare [DIR]   here: hpcadam published self-contained for linux-x64,
#                                           without a libtorch of its own (TorchBackend=none), packed
#                                           with this script into DIR/device-check.tar.xz (< 64 MiB)
#   ./device-check.sh run                   there, in the unpacked folder: versions, the libtorch
#                                           symbols TorchSharp needs, doctor, a CUDA step against the
#                                           CPU step on the same micro-batches (fused GPU kernels, then
#                                           the tensor operations), NCCL on 1 rank (and 2 where mpirun
#                                           exists), a cosine schedule with clipping, S2 sent as
#                                           bfloat16 through NCCL, a table of step times, `hpcadam bench step`
#                                           against the machine's PyTorch, and the step's all-reduce in
#                                           buckets (the same bytes as one call; ResNet-18's step with and
#                                           without them)
#   ./device-check.sh buckets               there: the buckets' part alone
#
# Bounded: every command has a timeout, the whole run stays under 8 minutes. It writes only under
# the folder it runs in. Last run on an H200 with commit 8f477a3 (docs/running.md, "GPUs").
set -euo pipefail

prepare() {
  cd "$(dirname "$0")/.."
  local out=${1:-artifacts/device-check}
  local stage="$out/device-check"
  rm -rf "$stage" && mkdir -p "$stage"
  dotnet publish src/Trainer/HpcAdam.Trainer.csproj -c Release -r linux-x64 --self-contained \
    -p:TorchBackend=none -p:InvariantGlobalization=true -nologo -v quiet -o "$stage/hpcadam"
  cp scripts/device-check.sh "$stage/"
  tar -C "$out" -cJf "$out/device-check.tar.xz" device-check
  local bytes
  bytes=$(stat -c %s "$out/device-check.tar.xz")
  ((bytes < 64 * 1024 * 1024)) || { echo "device-check: $out/device-check.tar.xz is $((bytes / 1048576)) MiB, over the 64 MiB a device run may carry" >&2; exit 1; }
  echo "device-check: $out/device-check.tar.xz ($((bytes / 1048576)) MiB); there: tar -xJf device-check.tar.xz && cd device-check && ./device-check.sh run"
}

# libtorch, NCCL, the CUDA runtime and NVRTC from the machine's PyTorch and its nvidia-* wheels.
environment() {
  cd "$(dirname "$0")"
  [ -x ./hpcadam/hpcadam ] || { echo "device-check: run it from the unpacked folder (./hpcadam/hpcadam is missing)" >&2; exit 2; }
  local torch_lib nccl_lib cudart_lib nvrtc_lib
  torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  nccl_lib=$(python3 -c 'import os, nvidia.nccl; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))' 2>/dev/null || true)
  cudart_lib=$(python3 -c 'import os, nvidia.cuda_runtime; print(os.path.join(list(nvidia.cuda_runtime.__path__)[0], "lib"))' 2>/dev/null || true)
  # NVRTC compiles the fused optimizer kernels; it loads its builtins library from the loader's path.
  nvrtc_lib=$(python3 -c 'import os, nvidia.cuda_nvrtc; print(os.path.join(list(nvidia.cuda_nvrtc.__path__)[0], "lib"))' 2>/dev/null || true)
  export LD_LIBRARY_PATH="$torch_lib${nccl_lib:+:$nccl_lib}${cudart_lib:+:$cudart_lib}${nvrtc_lib:+:$nvrtc_lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ -n "$nccl_lib" ]; then export HPCADAM_NCCL_LIBRARY="$nccl_lib/libnccl.so.2"; fi
  if [ -n "$cudart_lib" ]; then export HPCADAM_CUDART_LIBRARY=$(ls "$cudart_lib"/libcudart.so.* | head -1); fi
  if [ -n "$nvrtc_lib" ]; then export HPCADAM_NVRTC_LIBRARY=$(ls "$nvrtc_lib"/libnvrtc.so.* | grep -v builtins | head -1); fi
}

run() {
  environment
  local bin=./hpcadam/hpcadam
  local t="timeout 120"

  echo "== versions"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  python3 -c 'import torch; print("pytorch", torch.__version__, "cuda", torch.version.cuda, "nccl", ".".join(map(str, torch.cuda.nccl.version())))'

  echo "== the libtorch symbols TorchSharp imports, bound now against this libtorch"
  if python3 -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL | 2)' "hpcadam/libLibTorchSharp.so"; then
    echo "all resolved"
  else
    echo "device-check: libLibTorchSharp.so does not bind against this libtorch; the runs below cannot be trusted" >&2
  fi

  echo "== doctor"
  $t "$bin" doctor || true

  # Every check runs whatever the one before it found, so one call gives every figure; the exit code counts the failures.
  local failures=0
  echo "== one step on the CPU and on the GPU, same micro-batches (BSI-Adam, MLP, synthetic data)"
  local common=(train --Data:Name=synthetic --Model:Name=mlp --Batch:MicroBatchSize=32 --Batch:Kappa=4 --Check:TimeoutSeconds=60)
  rm -rf runs && mkdir -p runs
  $t "$bin" "${common[@]}" --Train:Steps=1 --Device:Name=cpu --Run:Dir=runs/cpu-1 || failures=$((failures + 1))
  $t "$bin" "${common[@]}" --Train:Steps=1 --Device:Name=cuda --Collectives:Backend=mpi --Run:Dir=runs/cuda-1 2>runs/cuda-1.stderr \
    || failures=$((failures + 1))
  cat runs/cuda-1.stderr >&2

  echo "== fused GPU optimizer against the tensor-operation path (the same step with HPCADAM_FUSED_GPU=0)"
  # HpcAdam.Optim says once on stderr when it falls back to the tensor operations, and why.
  if grep -q "run as tensor operations" runs/cuda-1.stderr; then
    echo "device-check: the cuda run above did NOT use the fused kernels: $(grep "run as tensor operations" runs/cuda-1.stderr)" >&2
  else
    echo "the cuda run above used the fused kernels"
  fi
  HPCADAM_FUSED_GPU=0 $t "$bin" "${common[@]}" --Train:Steps=1 --Device:Name=cuda --Collectives:Backend=mpi --Run:Dir=runs/cuda-1-tensor-ops \
    || failures=$((failures + 1))
  compare runs/cpu-1 runs/cuda-1 1e-5 || failures=$((failures + 1))
  compare runs/cpu-1 runs/cuda-1-tensor-ops 1e-5 || failures=$((failures + 1))
  compare runs/cuda-1-tensor-ops runs/cuda-1 1e-5 || failures=$((failures + 1))

  echo "== NCCL on 1 rank, 50 steps; bfloat16 on the GPU, 50 steps"
  $t "$bin" "${common[@]}" --Train:Steps=50 --Device:Name=cpu --Run:Dir=runs/cpu-50 || failures=$((failures + 1))
  $t "$bin" "${common[@]}" --Train:Steps=50 --Device:Name=cuda --Collectives:Backend=nccl --Run:Dir=runs/nccl-50 || failures=$((failures + 1))
  compare runs/cpu-50 runs/nccl-50 1e-3 || failures=$((failures + 1))
  $t "$bin" "${common[@]}" --Train:Steps=50 --Device:Name=cuda --Train:Precision=bfloat16 --Run:Dir=runs/bf16-50 | tail -1 \
    || failures=$((failures + 1))
  compare runs/cpu-50 runs/bf16-50 1 || true   # how far bfloat16's 50 steps end from float32's: a figure, no bound

  echo "== a cosine schedule with warm-up and gradient clipping, 50 steps on the CPU and with NCCL on the GPU"
  local scheduled=(--Optimizer:Schedule=cosine --Optimizer:WarmupSamples=640 --Optimizer:ClipNorm=0.5)
  $t "$bin" "${common[@]}" "${scheduled[@]}" --Train:Steps=50 --Device:Name=cpu --Run:Dir=runs/cpu-cosine-50 | tail -1 || failures=$((failures + 1))
  $t "$bin" "${common[@]}" "${scheduled[@]}" --Train:Steps=50 --Device:Name=cuda --Collectives:Backend=nccl --Run:Dir=runs/nccl-cosine-50 | tail -1 \
    || failures=$((failures + 1))
  compare runs/cpu-cosine-50 runs/nccl-cosine-50 1e-3 || failures=$((failures + 1))

  echo "== S2 sent as bfloat16 (Collectives:SquaresPrecision), 50 steps on the CPU and with NCCL on the GPU (ncclBfloat16, one group)"
  local squares=(--Collectives:SquaresPrecision=bfloat16)
  $t "$bin" "${common[@]}" "${squares[@]}" --Train:Steps=50 --Device:Name=cpu --Run:Dir=runs/cpu-squares-50 | tail -1 || failures=$((failures + 1))
  $t "$bin" "${common[@]}" "${squares[@]}" --Train:Steps=50 --Device:Name=cuda --Collectives:Backend=nccl --Run:Dir=runs/nccl-squares-50 | tail -1 \
    || failures=$((failures + 1))
  compare runs/cpu-squares-50 runs/nccl-squares-50 1e-3 || failures=$((failures + 1))

  if command -v mpirun >/dev/null; then
    echo "== 2 ranks on the one GPU: MPI staged through the host; the progress line's peak memory against summary.json"
    $t mpirun --allow-run-as-root --oversubscribe -np 2 "$bin" "${common[@]}" --Train:Steps=50 --Device:Name=cuda --Device:Share=true \
      --Collectives:Backend=mpi --Run:Dir=runs/mpi2-50 | tee runs/mpi2-50.log || failures=$((failures + 1))
    compare runs/cpu-50 runs/mpi2-50 1e-3 || failures=$((failures + 1))
    python3 - runs/mpi2-50 <<'PY' || failures=$((failures + 1))
import json, re, sys
run = sys.argv[1]
line = [l for l in open(f"{run}.log") if l.startswith("# step 50/50")][-1]
shown = float(re.search(r"peak rss ([0-9.]+) GiB", line).group(1))
summary = max(json.load(open(f"{run}/summary.json"))["peak_rss_mib"]) / 1024
print(f"progress line: peak rss {shown:.2f} GiB; summary.json: {summary:.2f} GiB: {'ok' if abs(shown - summary) <= 0.05 * summary + 0.01 else 'DIFFERENT'}")
sys.exit(0 if abs(shown - summary) <= 0.05 * summary + 0.01 else 1)
PY
  else
    echo "== 2 ranks: not run (no mpirun on this machine)"
  fi

  echo "== steady-state step time (ms, median by phase, CUDA events on the GPU)"
  python3 - runs/*-50 <<'PY'
import json, sys
print("| run | compute | communication | optimizer | statistics | other | total | samples/s |")
print("|---|---|---|---|---|---|---|---|")
for run in sys.argv[1:]:
    steady = json.load(open(f"{run}/summary.json"))["steady_state"]
    ms = steady["step_ms"]
    print(f"| {run.split('/')[-1]} | {ms['compute']:.3f} | {ms['comm']:.3f} | {ms['optim']:.3f} | {ms['stats']:.3f} | {ms['other']:.3f} | {ms['total']:.3f} | {steady['samples_per_s']:.0f} |")
PY

  # Defaults: ResNet-18 and the ViT at 256x1 and 128x2, float32 and bfloat16, 20 + 100 steps a peer, and the
  # optimizer alone against fused Adam. At 10-20 ms a ResNet-18 step on an H200 that is a minute or two; the bound keeps the script under 8.
  echo "== bench step: HpcAdam against this PyTorch, same models and batches"
  timeout 300 "$bin" bench step --device cuda --json runs/bench-step.json || { echo "device-check: bench step failed or ran out of time" >&2; failures=$((failures + 1)); }
  buckets || failures=$((failures + $?))
  echo "device-check: $failures check(s) failed"
  return "$((failures > 0))"
}

# The step's all-reduce in buckets (Collectives:BucketMiB): with NCCL on a stream of its own and the optimizer on each bucket
# as it arrives, the same bytes as the whole buffer in one call; then what the pipeline hides of ResNet-18's step.
buckets() {
  local bin=./hpcadam/hpcadam t="timeout 120" failures=0
  local common=(train --Data:Name=synthetic --Model:Name=mlp --Batch:MicroBatchSize=32 --Batch:Kappa=4 --Check:TimeoutSeconds=60 --Train:Steps=50
    --Device:Name=cuda)
  mkdir -p runs
  echo "== buckets: 50 steps in 7 buckets against the whole buffer in one call, NCCL on 1 rank (float32 and bfloat16 squares)"
  local squares
  for squares in float32 bfloat16; do
    local setting=(--Collectives:Backend=nccl --Collectives:SquaresPrecision=$squares)
    $t "$bin" "${common[@]}" "${setting[@]}" --Run:Dir=runs/nccl-whole-$squares | tail -1 || failures=$((failures + 1))
    $t "$bin" "${common[@]}" "${setting[@]}" --Collectives:BucketMiB=0.125 --Run:Dir=runs/nccl-buckets-$squares | tail -1 || failures=$((failures + 1))
    same_bytes runs/nccl-whole-$squares runs/nccl-buckets-$squares || failures=$((failures + 1))
  done
  local two=(mpirun --allow-run-as-root --oversubscribe -np 2)
  if command -v mpirun >/dev/null; then
    echo "== buckets: the same on 2 ranks sharing the GPU through MPI"
    $t "${two[@]}" "$bin" "${common[@]}" --Device:Share=true --Collectives:Backend=mpi --Run:Dir=runs/mpi2-whole | tail -1 || failures=$((failures + 1))
    $t "${two[@]}" "$bin" "${common[@]}" --Device:Share=true --Collectives:Backend=mpi --Collectives:BucketMiB=0.125 --Run:Dir=runs/mpi2-buckets | tail -1 \
      || failures=$((failures + 1))
    same_bytes runs/mpi2-whole runs/mpi2-buckets || failures=$((failures + 1))
  fi
  echo "== ResNet-18 with and without buckets: 1 rank with NCCL (M = 256), 2 ranks through MPI (M = 128, κ = 2); two rounds"
  local resnet=(train --Data:Name=synthetic --Model:Name=resnet18 --Check:TimeoutSeconds=60 --Train:Steps=60 --Device:Name=cuda --Eval:Samples=256)
  local round mib
  for round in 1 2; do
    for mib in 0 4 25; do
      $t "$bin" "${resnet[@]}" --Batch:MicroBatchSize=256 --Batch:Kappa=1 --Collectives:Backend=nccl --Collectives:BucketMiB=$mib \
        --Run:Dir=runs/resnet-nccl-$mib-mib-$round >/dev/null || failures=$((failures + 1))
      if command -v mpirun >/dev/null; then
        $t "${two[@]}" "$bin" "${resnet[@]}" --Batch:MicroBatchSize=128 --Batch:Kappa=2 --Device:Share=true --Collectives:Backend=mpi \
          --Collectives:BucketMiB=$mib --Run:Dir=runs/resnet-mpi2-$mib-mib-$round >/dev/null || failures=$((failures + 1))
      fi
    done
  done
  python3 - runs/resnet-* <<'PY'
import json, sys
print("| run | buckets | compute | communication | optimizer | statistics | other | total | after compute |")
print("|---|---|---|---|---|---|---|---|---|")
for run in sorted(sys.argv[1:]):
    summary = json.load(open(f"{run}/summary.json"))
    ms = summary["steady_state"]["step_ms"]
    after = ms["comm"] + ms["optim"] + ms["stats"]
    print(f"| {run.split('/')[-1]} | {summary['allreduce_buckets']} | {ms['compute']:.3f} | {ms['comm']:.3f} | {ms['optim']:.3f} | {ms['stats']:.3f} | "
          f"{ms['other']:.3f} | {ms['total']:.3f} | {after:.3f} |")
PY
  echo "device-check: buckets: $failures check(s) failed"
  return "$failures"
}

# The last checkpoints of two runs hold the same bytes: weights, and the optimizer's m and v.
same_bytes() {
  local a b file
  a=$(ls -d "$1"/checkpoints/* | tail -1) b=$(ls -d "$2"/checkpoints/* | tail -1)
  for file in model.safetensors optimizer.safetensors; do
    if cmp -s "$a/$file" "$b/$file"; then
      echo "$2 against $1: $file identical"
    else
      echo "$2 against $1: $file DIFFERS"
      return 1
    fi
  done
}

# The final weights of two runs, relative difference ‖a − b‖ / ‖a‖ over the whole model, against a bound.
compare() {
  python3 - "$1" "$2" "$3" <<'PY'
import array, glob, json, math, struct, sys
def weights(run):
    path = sorted(glob.glob(f"{run}/checkpoints/*/model.safetensors"))[-1]
    data = open(path, "rb").read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    values = array.array("f")
    for name, entry in sorted(header.items()):
        if name != "__metadata__" and entry["dtype"] == "F32":
            begin, end = entry["data_offsets"]
            values.frombytes(data[8 + length + begin:8 + length + end])
    return values
a, b, bound = weights(sys.argv[1]), weights(sys.argv[2]), float(sys.argv[3])
relative = math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b))) / math.sqrt(sum(x * x for x in a))
print(f"{sys.argv[2]} against {sys.argv[1]}: relative difference {relative:.2e} (bound {bound:g}): {'ok' if relative <= bound else 'TOO FAR'}")
sys.exit(0 if relative <= bound else 1)
PY
}

case "${1:-}" in
  prepare) shift; prepare "$@" ;;
  run) run ;;
  buckets) environment && buckets ;;
  *) echo "usage: scripts/device-check.sh prepare [DIR] | ./device-check.sh run|buckets (on the GPU machine)" >&2; exit 2 ;;
esac
