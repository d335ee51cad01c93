#!/usr/bin/env bash
# The C# all-reduce path against plain MPI_Allreduce in C, on the same ranks and sizes.
# Rounds alternate C and C# so that both see the same machine load; the comparison takes
# each side's best round per size. Usage: scripts/bench-allreduce.sh [RANKS=2] [ROUNDS=3] [extra bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-2}; rounds=${2:-3}; shift $(( $# < 2 ? $# : 2 ))
out=artifacts/bench/allreduce
mkdir -p "$out"
reference=(); candidate=()
for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds: C reference (native/bench), then the C# path (hpcadam bench allreduce)"
  scripts/mpirun.sh "$ranks" artifacts/native/allreduce_bench --json "$out/c-$round.json" "$@"
  scripts/mpirun.sh "$ranks" ./hpcadam bench allreduce --json "$out/csharp-$round.json" "$@"
  reference+=("$out/c-$round.json"); candidate+=("$out/csharp-$round.json")
done
echo "== C# path / C reference"
./hpcadam bench compare --reference "${reference[@]}" --candidate "${candidate[@]}"
