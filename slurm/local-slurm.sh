#!/usr/bin/env bash
# A Slurm on this machine, for the tests and for trying slurm/hpcadam.sbatch: munged, slurmctld
# and a slurmd per node with their own key, config, ports, state and logs in one folder, so they
# never meet a site's /etc/slurm, /etc/munge or running daemons. One node on localhost, or, with
# HPCADAM_SLURM_HOSTS set to the folder of a cluster that scripts/namespace-hosts.sh started, one
# node per namespace host (node1, node2, ...; slurmctld on node1), whose job steps talk over TCP.
#
#   slurm/local-slurm.sh install   installs what is missing (Debian packages, non-interactive)
#   slurm/local-slurm.sh start     install, write the config, start the daemons not yet running, wait
#                                  until every node is idle, then print `export SLURM_CONF=...` on stdout
#   slurm/local-slurm.sh stop      cancel its jobs, stop the daemons it started
#   slurm/local-slurm.sh status    each daemon and each node's state; exit 0 when all run
#
#   eval "$(slurm/local-slurm.sh start)"; srun --mpi=pmix -n 2 ./hpcadam selftest
#
# On namespace hosts, Slurm's commands (srun, sbatch, squeue, ...) reach slurmctld only from a
# host: scripts/namespace-hosts.sh on 1 srun -N 2 -n 4 --mpi=pmix ./hpcadam selftest
#
# HPCADAM_SLURM_DIR moves the folder (default /tmp/hpcadam-slurm) and HPCADAM_SLURM_PORT the
# ports (slurmctld's, default 6917, and slurmd's, the next one): each folder is a Slurm of its
# own, so test runs of two checkouts each start theirs side by side. A start that fails stops
# what it started. Runs as root (sudo otherwise): slurmd starts job steps as their user.
set -euo pipefail

dir=${HPCADAM_SLURM_DIR:-/tmp/hpcadam-slurm}
port=${HPCADAM_SLURM_PORT:-6917}
hosts_dir=${HPCADAM_SLURM_HOSTS:-}
hosts_script=$(dirname "$(readlink -f "$0")")/../scripts/namespace-hosts.sh
conf=$dir/slurm.conf
socket=$dir/munge/munge.socket
timeout_s=30

say() { echo "local-slurm: $*" >&2; }  # stdout carries only the export line, for eval
fail() { say "$*"; exit 1; }
usage() { echo "usage: slurm/local-slurm.sh install|start|stop|status" >&2; exit 2; }

(($# == 1)) || usage
case $1 in install | start | stop | status) ;; *) usage ;; esac
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "needs root (slurmd starts job steps as their user): run it as root"
  exec sudo HPCADAM_SLURM_DIR="$dir" HPCADAM_SLURM_PORT="$port" HPCADAM_SLURM_HOSTS="$hosts_dir" "$0" "$@"
fi

# The nodes, "NAME ADDRESS" a line: this machine on loopback, or the namespace hosts.
if [ -n "$hosts_dir" ]; then
  [ -f "$hosts_dir/nodes" ] || fail "HPCADAM_SLURM_HOSTS=$hosts_dir holds no cluster: run scripts/namespace-hosts.sh start first"
  mapfile -t nodes <"$hosts_dir/nodes"
else
  nodes=("$(hostname -s) 127.0.0.1")
fi
names=("${nodes[@]%% *}")
controller=${nodes[0]}  # "NAME ADDRESS" of the node slurmctld runs on

# A command on node number $1 (from 1): in its network namespace, under its hostname, where there
# are namespace hosts. Slurm's clients reach slurmctld from node 1.
on_node() {
  local node=$1
  shift
  if [ -n "$hosts_dir" ]; then HPCADAM_HOSTS_DIR=$hosts_dir "$hosts_script" on "$node" "$@"; else "$@"; fi
}

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
  local hardware node
  hardware=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]* //')  # CPUs, sockets, memory as slurmd will find them
  cat <<EOF
# Written by slurm/local-slurm.sh: a Slurm on this machine for HpcAdam's tests. Edits are overwritten.
# A name of its own, so its logs and jobs are never taken for a site's cluster.
ClusterName=hpcadam-local
# Loopback or the namespace hosts' private subnet: no name resolution, no traffic beyond this
# machine. Not Slurm's ports 6817/6818, which a site's daemons on this machine would hold.
SlurmctldHost=${controller% *}(${controller#* })
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
# Everything the daemons keep, in this folder: nothing under /etc, /var or /run. %n is the
# node's name: the nodes of one machine each need their own.
StateSaveLocation=$dir/slurmctld
SlurmdSpoolDir=$dir/slurmd-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
# Each node as slurmd -C finds this machine: a node configured bigger than it is would be drained.
EOF
  for node in "${nodes[@]}"; do echo "NodeName=${node% *} NodeAddr=${node#* } $hardware State=UNKNOWN"; done
  cat <<EOF
# One default partition without a time limit: each job sets its own.
PartitionName=debug Nodes=$(IFS=,; echo "${names[*]}") Default=YES MaxTime=INFINITE State=UP
EOF
}

# A node's own config folder: the same slurm.conf, and an mpi.conf that puts PMIx's per-job
# folders (spmix_appdir_*, in /tmp by default) in a folder of the node's own, since the nodes of
# one machine share /tmp and two nodes' steps of one job would take the same name.
write_node_config() {
  local name=$1
  mkdir -p "$dir/$name" "$dir/pmix-$name"
  cp "$conf" "$dir/$name/slurm.conf"
  echo "PMIxCliTmpDirBase=$dir/pmix-$name" >"$dir/$name/mpi.conf"
}

# The pid of a daemon this script started, if it still runs (its pid file, checked against the
# process's name, so a recycled pid is never taken for it). $1: the daemon, $2: its pid file's
# name if not $1.pid.
running_pid() {
  local pid
  pid=$(cat "$dir/${2:-$1.pid}" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

munge_works() { munge -n -S "$socket" 2>/dev/null | unmunge -S "$socket" >/dev/null 2>&1; }
slurmctld_answers() { on_node 1 scontrol ping 2>/dev/null | grep -q 'is UP'; }
node_states() { on_node 1 sinfo -h -N -o '%N %T' 2>/dev/null | sort -u; }
# Every node idle (or busy with jobs): none still down, unknown or not responding.
nodes_are_up() {
  local states
  states=$(node_states)
  (($(grep -c -E ' (idle|mixed|allocated|completing)$' <<<"$states") == ${#names[@]}))
}

# Waits until CHECK succeeds; on time-out or the daemon's death, one line naming it and its log.
# $1: the daemon, $2: its pid file, $3: its log, $4: the check, $5: what it waits for.
wait_for() {
  local daemon=$1 pid_file=$2 log=$dir/$3 check=$4 what=$5 deadline=$((SECONDS + timeout_s))
  until $check; do
    if ! running_pid "$daemon" "$pid_file" >/dev/null; then
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

# Starts a daemon on node $1 with its output in log $2: one that kept this script's stdout would
# hold up a caller reading it to the end (eval "$(...)", the tests) and one that kept fd 9 the lock.
launch() {
  local node=$1 log=$dir/$2
  shift 2
  say "starting $1 on ${names[node - 1]}"
  on_node "$node" "$@" </dev/null >>"$log" 2>&1 9>&- || fail "$1 did not start: see $log"
}

start() {
  local i name
  install
  # Whatever fails from here on (a daemon that dies, a time-out), stop what was started.
  trap 'say "start failed: stopping its daemons"; stop' EXIT
  mkdir -p "$dir/munge" "$dir/slurmctld"
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
    launch 1 munged.log munged --socket="$socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munged.pid" \
      --log-file="$dir/munged.log" --seed-file="$dir/munge/munged.seed"
  fi
  wait_for munged munged.pid munged.log munge_works "a credential through $socket"

  if ! running_pid slurmctld >/dev/null; then
    launch 1 slurmctld.log slurmctld -c  # -c: no jobs left from a previous life
  fi
  wait_for slurmctld slurmctld.pid slurmctld.log slurmctld_answers "scontrol ping to say UP"

  for i in "${!names[@]}"; do
    name=${names[i]}
    running_pid slurmd "slurmd-$name.pid" >/dev/null && continue
    write_node_config "$name"
    launch $((i + 1)) "slurmd-$name.log" slurmd -N "$name" -f "$dir/$name/slurm.conf"
  done
  wait_for slurmd "slurmd-${names[0]}.pid" "slurmd-${names[0]}.log" nodes_are_up "nodes ${names[*]} to be idle in sinfo"

  say "nodes $(node_states | paste -sd ' ') ($(on_node 1 sinfo -h -o '%c CPUs each' | head -n 1)); logs in $dir"
  trap - EXIT
  echo "export SLURM_CONF=$conf"
}

stop() {
  local daemon pid pids=() deadline name
  export SLURM_CONF=$conf
  if running_pid slurmctld >/dev/null && [ -n "$(on_node 1 squeue -h -o %i 2>/dev/null)" ]; then
    say "cancelling every job (all of them are this Slurm's own)"
    on_node 1 scancel --partition=debug 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while [ -n "$(on_node 1 squeue -h -o %i 2>/dev/null)" ] && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  for name in "${names[@]}"; do
    pid=$(running_pid slurmd "slurmd-$name.pid") || continue
    say "stopping slurmd on $name ($pid)"
    kill "$pid"
    pids+=("$pid")
  done
  for daemon in slurmctld munged; do
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
  rm -f "$dir"/{munged,slurmctld}.pid "$dir"/slurmd-*.pid
}

status() {
  local daemon pid all=0 name
  export SLURM_CONF=$conf
  for daemon in munged slurmctld; do
    if pid=$(running_pid "$daemon"); then echo "$daemon: running ($pid), log $dir/$daemon.log"
    else echo "$daemon: not running"; all=3; fi
  done
  for name in "${names[@]}"; do
    if pid=$(running_pid slurmd "slurmd-$name.pid"); then echo "slurmd on $name: running ($pid), log $dir/slurmd-$name.log"
    else echo "slurmd on $name: not running"; all=3; fi
  done
  ((all)) || echo "nodes: $(node_states | paste -sd ' '); export SLURM_CONF=$conf"
  return "$all"
}

mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9  # one start or stop at a time: test runs of two checkouts share this Slurm
"$1"
