#!/usr/bin/env bash
# A one-node Slurm on this machine, for the tests and for trying slurm/hpcadam.sbatch: munged,
# slurmctld and slurmd on localhost with their own key, config, ports, state and logs in one
# folder, so they never meet a site's /etc/slurm, /etc/munge or running daemons.
#
#   slurm/one-node.sh install   installs what is missing (Debian packages, non-interactive)
#   slurm/one-node.sh start     install, write the config, start the daemons not yet running, wait
#                               until the node is idle, then print `export SLURM_CONF=...` on stdout
#   slurm/one-node.sh stop      cancel its jobs, stop the daemons it started
#   slurm/one-node.sh status    each daemon and the node's state; exit 0 when all three run
#
#   eval "$(slurm/one-node.sh start)"; srun --mpi=pmix -n 2 ./hpcadam selftest
#
# HPCADAM_SLURM_DIR moves the folder (default /tmp/hpcadam-slurm) and HPCADAM_SLURM_PORT the
# ports (slurmctld's, default 6917, and slurmd's, the next one): each folder is a Slurm of its
# own, so test runs of two checkouts each start theirs side by side. A start that fails stops
# what it started. Runs as root (sudo otherwise): slurmd starts job steps as their user.
set -euo pipefail

dir=${HPCADAM_SLURM_DIR:-/tmp/hpcadam-slurm}
port=${HPCADAM_SLURM_PORT:-6917}
conf=$dir/slurm.conf
socket=$dir/munge/munge.socket
timeout_s=30

say() { echo "one-node: $*" >&2; }  # stdout carries only the export line, for eval
fail() { say "$*"; exit 1; }
usage() { echo "usage: slurm/one-node.sh install|start|stop|status" >&2; exit 2; }

(($# == 1)) || usage
case $1 in install | start | stop | status) ;; *) usage ;; esac
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "needs root (slurmd starts job steps as their user): run it as root"
  exec sudo HPCADAM_SLURM_DIR="$dir" HPCADAM_SLURM_PORT="$port" "$0" "$@"
fi

install() {
  local missing=()
  command -v slurmctld >/dev/null || missing+=(slurmctld)
  command -v slurmd >/dev/null || missing+=(slurmd)
  command -v sbatch >/dev/null || missing+=(slurm-client)
  command -v munged >/dev/null || missing+=(munge)
  # Slurm's PMIx plugin dlopens the unversioned libpmix.so, which only the -dev package has.
  ldconfig -p | grep -q 'libpmix\.so ' || missing+=(libpmix-dev)
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get: install Slurm (slurmctld, slurmd, client), munge and PMIx"
  say "installing ${missing[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The config, with why each setting is there.
write_config() {
  local node hardware
  node=$(hostname -s)
  hardware=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]* //')  # CPUs, sockets, memory as slurmd will find them
  cat <<EOF
# Written by slurm/one-node.sh: a one-node Slurm for HpcAdam's tests. Edits are overwritten.
# A name of its own, so its logs and jobs are never taken for a site's cluster.
ClusterName=hpcadam-one-node
# Loopback only: no name resolution, no traffic beyond this machine. Not Slurm's ports
# 6817/6818, which a site's daemons on this machine would hold.
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
# The daemons run as root, so a fresh machine needs no slurm account or chown.
SlurmUser=root
# No mail on a test node; the default /bin/mail is usually absent and logs an error.
MailProg=/bin/true
# munge authenticates every message; ours is a private munged with its own key and socket.
# A job credential lives 10 s, not 120: a requeued job waits that long before it may start
# again (slurmd refuses to launch it while its previous credential is revoked).
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket,cred_expire=10
# Processes tracked by parent id, no task binding: cgroups need a delegated hierarchy that
# containers and CI machines often lack, and a test node needs neither.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# srun wires ranks to Open MPI through PMIx even without --mpi=pmix.
MpiDefault=pmix
# Cores are what jobs ask for; memory is not tracked, so no job waits for it.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# A node that was down comes back as soon as its slurmd registers.
ReturnToService=2
# Everything the daemons keep, in this folder: nothing under /etc, /var or /run.
StateSaveLocation=$dir/slurmctld
SlurmdSpoolDir=$dir/slurmd
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
# This machine as slurmd -C finds it: a node configured bigger than it is would be drained.
NodeName=$node NodeAddr=127.0.0.1 $hardware State=UNKNOWN
# One default partition without a time limit: each job sets its own.
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

# The pid of a daemon this script started, if it still runs (its pid file, checked against the
# process's name, so a recycled pid is never taken for it).
running_pid() {
  local pid
  pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

munge_works() { munge -n -S "$socket" 2>/dev/null | unmunge -S "$socket" >/dev/null 2>&1; }
slurmctld_answers() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
node_state() { sinfo -h -N -n "$(hostname -s)" -o %T 2>/dev/null | head -n 1; }
node_is_up() { case $(node_state) in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac; }

# Waits until CHECK succeeds; on time-out or the daemon's death, one line naming it and its log.
wait_for() {
  local daemon=$1 check=$2 what=$3 log=$dir/$1.log deadline=$((SECONDS + timeout_s))
  until $check; do
    if ! running_pid "$daemon" >/dev/null; then
      tail -n 5 "$log" 2>/dev/null | sed 's/^/  /' >&2
      fail "$daemon exited while waiting for $what: see $log"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 5 "$log" 2>/dev/null | sed 's/^/  /' >&2
      fail "gave up on $daemon after $timeout_s s waiting for $what: see $log"
    fi
    sleep 0.2
  done
}

# Starts a daemon with its output in its log: one that kept this script's stdout would hold up
# a caller reading it to the end (eval "$(...)", the tests) and one that kept fd 9 the lock.
launch() {
  say "starting $1"
  "$@" </dev/null >>"$dir/$1.log" 2>&1 9>&- || fail "$1 did not start: see $dir/$1.log"
}

start() {
  install
  # Whatever fails from here on (a daemon that dies, a time-out), stop what was started.
  trap 'say "start failed: stopping its daemons"; stop' EXIT
  mkdir -p "$dir/munge" "$dir/slurmctld" "$dir/slurmd"
  chmod 755 "$dir" "$dir/munge"  # munged refuses a socket folder that others can write to
  write_config >"$conf.new"
  if ! cmp -s "$conf.new" "$conf" && running_pid slurmctld >/dev/null; then
    say "the config changed: restarting"
    stop
  fi
  mv "$conf.new" "$conf"
  export SLURM_CONF=$conf

  [ -f "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key"
  if ! running_pid munged >/dev/null; then
    launch munged --socket="$socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munged.pid" \
      --log-file="$dir/munged.log" --seed-file="$dir/munge/munged.seed"
  fi
  wait_for munged munge_works "a credential through $socket"

  if ! running_pid slurmctld >/dev/null; then
    launch slurmctld -c  # -c: no jobs left from a previous life
  fi
  wait_for slurmctld slurmctld_answers "scontrol ping to say UP"

  if ! running_pid slurmd >/dev/null; then
    launch slurmd
  fi
  wait_for slurmd node_is_up "node $(hostname -s) to be idle in sinfo"

  say "node $(hostname -s) is $(node_state) ($(sinfo -h -o '%c CPUs' | head -n 1)); logs in $dir"
  trap - EXIT
  echo "export SLURM_CONF=$conf"
}

stop() {
  local daemon pid pids=() deadline
  export SLURM_CONF=$conf
  if running_pid slurmctld >/dev/null && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    say "cancelling every job (all of them are this Slurm's own)"
    scancel --partition=debug 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  for daemon in slurmd slurmctld munged; do
    pid=$(running_pid "$daemon") || continue
    say "stopping $daemon ($pid)"
    kill "$pid"
    pids+=("$pid")
  done
  # All at once, then wait: each takes a second or two to shut down.
  deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while [ -d "/proc/$pid" ] && ((SECONDS < deadline)); do sleep 0.1; done
    [ ! -d "/proc/$pid" ] || { say "$(cat "/proc/$pid/comm") ($pid) ignored SIGTERM for 10 s: killing it"; kill -KILL "$pid"; }
  done
  rm -f "$dir"/{munged,slurmctld,slurmd}.pid
}

status() {
  local daemon pid all=0
  export SLURM_CONF=$conf
  for daemon in munged slurmctld slurmd; do
    if pid=$(running_pid "$daemon"); then echo "$daemon: running ($pid), log $dir/$daemon.log"
    else echo "$daemon: not running"; all=3; fi
  done
  ((all)) || echo "node $(hostname -s): $(node_state); export SLURM_CONF=$conf"
  return "$all"
}

mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9  # one start or stop at a time: test runs of two checkouts share this Slurm
"$1"
