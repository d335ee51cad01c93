#!/usr/bin/env bash
# An adaptive-batch MNIST run beside fixed-batch runs of the same sample budget, then a table of
# steps, samples, mean batch size, final κ and accuracy, and when each first reached 96% test
# accuracy, with every evaluation (accuracy against steps and samples).
#   examples/adaptive-mnist.sh [bsi-adam|adadagrad] [OUT_DIR]
# bsi-adam:  BSI-Adam, norm test η_n = 0.1, κ 2 → 64 (B 64 → 2048), 10 epochs, against fixed B = 64, 128, 256.
# adadagrad: AdAdaGrad as published (AdaGrad, η held, norm test η_n = 0.1, growing toward the
#            whole training set), 100 epochs, against fixed B = 64, 256, 1024. Takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-bsi-adam}
out=${2:-runs/adaptive-mnist-$mode-$(date -u +%Y%m%dT%H%M%SZ)}
case "$mode" in
  bsi-adam) config=examples/mnist-adaptive.json; fixed_kappas="2 4 8" ;;
  adadagrad) config=examples/mnist-adadagrad.json; fixed_kappas="2 8 32" ;;
  *) echo "adaptive-mnist: '$mode' is not a mode: use bsi-adam or adadagrad" >&2; exit 2 ;;
esac
[ -x ./hpcadam ] || { echo "adaptive-mnist: ./hpcadam is missing: run scripts/setup.sh first" >&2; exit 2; }
[ ! -e "$out" ] || { echo "adaptive-mnist: $out already exists: name another folder" >&2; exit 2; }
scripts/fetch-data.sh mnist >/dev/null

micro_batch=32   # Batch:MicroBatchSize of both configs
echo "== adaptive: ./hpcadam train --config $config"
./hpcadam train --config "$config" --Run:Dir="$out/adaptive"
for kappa in $fixed_kappas; do
  batch=$((kappa * micro_batch))
  # About one evaluation per 8,000 samples, as often as the adaptive run's early steps.
  every=$(( (8000 + batch - 1) / batch ))
  echo "== fixed B = $batch: the same budget with Adaptive:Test=none, Batch:Kappa=$kappa"
  ./hpcadam train --config "$config" --Adaptive:Test=none --Batch:Kappa="$kappa" --Eval:Every="$every" --Run:Dir="$out/fixed-B$batch"
done
echo "== compare"
./hpcadam compare --curves "$out/adaptive" $(for kappa in $fixed_kappas; do echo "$out/fixed-B$((kappa * micro_batch))"; done)
