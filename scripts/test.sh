#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (installs what is missing, builds), then
# every NUnit test, including real Open MPI and MPICH jobs, jobs on namespace hosts, and jobs on
# a one-node and a two-node Slurm. Fails when a test fails, when one was skipped, or when none ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-mpich --with-torch  # the MPICH tests run under MPICH's own mpiexec; bench step's tests under PyTorch
scripts/fetch-data.sh mnist >/dev/null  # MNIST for the data tests; errors still reach stderr
slurm/local-slurm.sh install  # Slurm and munge, which the Slurm tests start (and stop) themselves

results=artifacts/test-results
rm -rf "$results"
status=0
dotnet test HpcAdam.sln -c Release --no-build -nologo --logger "trx;LogFileName=tests.trx" --results-directory "$results" || status=$?

trx="$results/tests.trx"
[ -f "$trx" ] || { echo "test: no test results were written ($trx): the test run did not start"; exit 1; }
count() { grep -o "<Counters [^>]*" "$trx" | grep -o " $1=\"[0-9]*\"" | grep -o "[0-9]*"; }
total=$(count total); passed=$(count passed); failed=$(count failed); executed=$(count executed)
skipped=$((total - executed))
echo "Tests: $passed passed, $failed failed, $skipped skipped"
[ "$executed" -gt 0 ] || { echo "test: no test was executed"; exit 1; }
# A skipped test proves nothing: every test must run here, so a skip fails the suite.
[ "$skipped" -eq 0 ] || { echo "test: $skipped test(s) did not run: every test must run (see $trx)"; exit 1; }
exit "$status"
