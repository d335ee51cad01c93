#!/usr/bin/env bash
# The main job, end to end on a fresh machine: set up (installing what is missing), check the
# machine, check every collective on 2 ranks, then benchmark the all-reduce against the C
# reference. (Until the trainer lands, this is what HpcAdam runs.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ./hpcadam doctor"
./hpcadam doctor
echo "== mpirun -np 2 ./hpcadam selftest"
scripts/mpirun.sh 2 ./hpcadam selftest
echo "== all-reduce bandwidth on 2 ranks: C# path and C reference"
scripts/bench-allreduce.sh 2 5
