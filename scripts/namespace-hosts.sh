#!/usr/bin/env bash
# A cluster of "hosts" on this one machine, for the multi-host tests: each host is a network
# namespace with its own hostname (a UTS namespace per command), and all of them hang off a bridge
# that lives in a namespace of its own, on a private /24 that exists nowhere else; so ranks on two
# hosts talk over TCP through the bridge, never over shared memory, and no packet leaves the set.
#
#   scripts/namespace-hosts.sh start [HOSTS]    create HOSTS hosts (default 2), write DIR/agent,
#                                               DIR/nodes (a line "NAME ADDRESS" per host), and
#                                               DIR/hostfile and DIR/machinefile (Open MPI's and
#                                               MPICH's host files, two slots a host)
#   scripts/namespace-hosts.sh mpirun ARGS...   Open MPI's mpirun from host 1 over every host, TCP only
#   scripts/namespace-hosts.sh mpiexec ARGS...  MPICH's mpiexec (Hydra) from host 1 over every host
#   scripts/namespace-hosts.sh on HOST CMD...   a command on host HOST (1, 2, ...)
#   scripts/namespace-hosts.sh link HOST up|down   plug or unplug HOST's cable to the bridge
#   scripts/namespace-hosts.sh stop             delete the namespaces and DIR
#
# HPCADAM_HOSTS_DIR (default /tmp/hpcadam-hosts) holds the state; the namespaces are named after
# it, so two test runs each start a cluster of their own side by side. Host i is 10.77.0.i and is
# called node<i>. Needs root (ip netns). A start that fails stops what it started.
set -euo pipefail

dir=${HPCADAM_HOSTS_DIR:-/tmp/hpcadam-hosts}
prefix=hpc$(printf '%s' "$(realpath -m "$dir")" | sha256sum | cut -c1-6)
subnet=10.77.0

say() { echo "namespace-hosts: $*" >&2; }
fail() { say "$*"; exit 1; }
usage() { echo "usage: scripts/namespace-hosts.sh start [HOSTS] | mpirun ARGS... | mpiexec ARGS... | on HOST CMD... | link HOST up|down | stop" >&2; exit 2; }
hosts() { cat "$dir/hosts" 2>/dev/null || fail "no cluster in $dir: run start first"; }

start() {
  local count=${1:-2}
  [[ $count =~ ^[0-9]+$ ]] && ((count >= 2 && count <= 8)) || fail "HOSTS = '$count': give 2 to 8"
  [ -e "$dir/hosts" ] && fail "$dir already holds a cluster: stop it first"
  command -v ip >/dev/null || fail "ip (iproute2) is missing: apt-get install iproute2"
  mkdir -p "$dir"
  trap 'stop >/dev/null 2>&1' ERR
  ip netns add "$prefix-sw"
  ip -n "$prefix-sw" link set lo up
  ip -n "$prefix-sw" link add br0 type bridge
  ip -n "$prefix-sw" link set br0 up
  for ((i = 1; i <= count; i++)); do
    ip netns add "$prefix-h$i"
    # IPv4 only: an IPv6 link-local address stays "tentative" for a second or two after the link
    # comes up, and an Open MPI daemon that picks it then cannot connect.
    ip netns exec "$prefix-h$i" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'
    ip link add "$prefix-v$i" type veth peer name eth0 netns "$prefix-h$i"
    ip link set "$prefix-v$i" netns "$prefix-sw"
    ip -n "$prefix-sw" link set "$prefix-v$i" master br0 up
    ip -n "$prefix-h$i" addr add "$subnet.$i/24" dev eth0
    ip -n "$prefix-h$i" link set eth0 up
    ip -n "$prefix-h$i" link set lo up
  done
  echo "$count" >"$dir/hosts"
  for ((i = 1; i <= count; i++)); do echo "node$i $subnet.$i"; done >"$dir/nodes"
  # Two slots a host, in each launcher's host file format.
  for ((i = 1; i <= count; i++)); do echo "$subnet.$i slots=2"; done >"$dir/hostfile"
  for ((i = 1; i <= count; i++)); do echo "$subnet.$i:2"; done >"$dir/machinefile"
  wait_until_connected
  # Open MPI's rsh agent: AGENT [ssh options] HOST WORDS... runs WORDS on HOST (given by its
  # address) through a shell, as ssh would.
  cat >"$dir/agent" <<EOF
#!/usr/bin/env bash
while [[ \$1 == -* ]]; do shift; done
host=\$1; shift
exec "$(realpath "$0")" on "\${host##*.}" bash -c "\$*"
EOF
  chmod +x "$dir/agent"
  trap - ERR
  say "$count hosts ($subnet.1-$count, node1-node$count) in namespaces $prefix-h*"
}

on() {
  local host=$1
  shift
  [[ $host =~ ^[0-9]+$ ]] && ((host >= 1 && host <= $(hosts))) || fail "HOST = '$host': give 1 to $(hosts)"
  # nsenter rather than ip netns exec, which remounts /sys for the namespace and so hides
  # /sys/fs/cgroup, where slurmd looks for its cgroups.
  HPCADAM_HOSTS_DIR=$dir exec nsenter --net="/var/run/netns/$prefix-h$host" unshare --uts bash -c 'hostname "$0"; exec "$@"' "node$host" "$@"
}

# A new link carries nothing until the kernel has seen its carrier come up, which it may do up to a
# second later; a daemon started before then could not reach mpirun (seen in CI, never here). So
# node1 and each other host must reach each other first: a TCP connection to a port where nobody
# listens is refused only once packets pass both ways. At most 20 rounds of one second.
wait_until_connected() {
  local count i round
  count=$(hosts)
  for ((round = 1; round <= 20; round++)); do
    for ((i = 2; i <= count; i++)); do
      refused "$i" "$subnet.1" && refused 1 "$subnet.$i" || break
    done
    ((i > count)) && return 0
    sleep 0.1
  done
  fail "host $i and host 1 cannot reach each other after 20 tries"
}

# Host $1 gets "connection refused" from port 9 (discard, unused here) of address $2.
refused() {
  local answer
  answer=$(on "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1 || true)
  [[ $answer == *refused* ]]
}

launch() {
  # TCP keepalive on mpirun's links to its daemons (idle 5 s, then 3 probes 2 s apart): a host that
  # drops off is noticed in about 11 s instead of Open MPI's default 8 minutes, and mpirun ends the job.
  on 1 mpirun --allow-run-as-root --oversubscribe --hostfile "$dir/hostfile" --mca plm_rsh_agent "$dir/agent" \
    --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" \
    --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3 "$@"
}

# MPICH's Hydra through the same agent; -iface keeps its ranks' TCP on the hosts' subnet.
launch_mpich() {
  on 1 mpiexec.mpich -launcher rsh -launcher-exec "$dir/agent" -iface eth0 -f "$dir/machinefile" "$@"
}

link() {
  local host=$1 state=$2
  [[ $host =~ ^[0-9]+$ ]] && ((host >= 1 && host <= $(hosts))) && [[ $state == up || $state == down ]] || usage
  ip -n "$prefix-sw" link set "$prefix-v$host" "$state"
  [[ $state == down ]] || wait_until_connected
}

stop() {
  local count
  count=$(cat "$dir/hosts" 2>/dev/null || echo 8)
  for ((i = 1; i <= count; i++)); do
    # Whatever still runs on a host goes with it.
    ip netns pids "$prefix-h$i" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$prefix-h$i" 2>/dev/null || true
  done
  ip netns del "$prefix-sw" 2>/dev/null || true
  rm -rf "$dir"
}

(($# >= 1)) || usage
[ "$(id -u)" -eq 0 ] || fail "needs root (ip netns): run it as root"
command=$1
shift
case $command in
  start) start "$@" ;;
  mpirun) launch "$@" ;;
  mpiexec) launch_mpich "$@" ;;
  on) (($# >= 2)) || usage; on "$@" ;;
  link) (($# == 2)) || usage; link "$@" ;;
  stop) stop ;;
  *) usage ;;
esac
