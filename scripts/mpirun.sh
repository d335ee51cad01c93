#!/usr/bin/env bash
# mpirun as the README uses it: Open MPI refuses to run as root unless told to, and a
# container or CI job often is root; more ranks than cores need --oversubscribe.
# Usage: scripts/mpirun.sh NP COMMAND [ARGS...]
set -euo pipefail
np=$1; shift
flags=()
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
[ "$np" -gt "$(nproc)" ] && flags+=(--oversubscribe)
exec mpirun "${flags[@]}" -np "$np" "$@"
