#!/usr/bin/env bash
# Single-node SLURM (Debian 12 / Slurm 22.05 / munge 0.5.15) on localhost,
# as root, without systemd. Everything lives under $SLURM_BASE.
#
#   cluster.sh start          wipe $SLURM_BASE, write configs, start munged,
#                             slurmctld, slurmd; wait until the node is IDLE
#   cluster.sh stop           cancel jobs, stop the 3 daemons by pid (TERM, then KILL)
#   cluster.sh wait JOBID [TIMEOUT_S]
#                             poll scontrol until every record of JOBID (all array
#                             tasks) is terminal; exit 0 iff all are COMPLETED,
#                             1 if any failed/cancelled, 2 on timeout
#                             (uses the caller's SLURM_CONF if set)
#   cluster.sh env            print `export SLURM_CONF=...` for client commands
#
# Requires: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
set -euo pipefail

SLURM_BASE=${SLURM_BASE:-/tmp/slurm-test}
CTLD_PORT=${SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_SLURMD_PORT:-6818}
NODE_CPUS=${SLURM_NODE_CPUS:-2}
NODE_MEM_MB=${SLURM_NODE_MEM_MB:-1024}

CONF=$SLURM_BASE/etc/slurm.conf
MUNGE_DIR=$SLURM_BASE/munge
MUNGE_SOCK=$MUNGE_DIR/munge.socket.2
RUN=$SLURM_BASE/run
LOG=$SLURM_BASE/log
CALLER_CONF=${SLURM_CONF:-}
export SLURM_CONF=$CONF   # start/stop always act on the cluster under $SLURM_BASE

log() { echo "[cluster.sh $(date +%T.%3N)] $*" >&2; }
fail_start() { log "ERROR: $*"; dump_logs; cmd_stop || true; exit 1; }
dump_logs() {
  local f
  for f in "$LOG"/munged.stderr "$LOG"/slurmctld.stderr "$LOG"/slurmd.stderr; do
    [ -f "$f" ] || continue
    echo "----- $f (tail) -----" >&2
    grep -v -e pmix -e 'MPI:' -e 'state file' -e 'NOTE: Trying backup' "$f" | tail -n 15 >&2 || true
  done
}

# alive PID [COMM]: process exists, is not a zombie (kill -0 is true for zombies,
# and our daemons are reparented to pid 1, which may reap late or never) and,
# if COMM is given, /proc/PID/comm matches it (guards against pid reuse)
alive() {
  local pid=${1:-} st
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
  [ -z "${2:-}" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
dead() { ! alive "$@"; }
pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }

# retry CMD until it succeeds or TIMEOUT_S elapses (0.1 s steps)
retry() {
  local timeout=$1; shift
  local deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# start NAME CMD...: run CMD in the foreground mode of the daemon, in background,
# stdio detached from the caller (otherwise a caller reading our stdout pipe hangs)
spawn() {
  local name=$1; shift
  "$@" </dev/null >>"$LOG/$name.stderr" 2>&1 &
  echo $! >"$RUN/$name.pid"
  log "started $name pid $!"
}

write_conf() {
  cat >"$CONF" <<EOF
ClusterName=ci
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
# bind to the resolved address (127.0.0.1) instead of 0.0.0.0
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
StateSaveLocation=$SLURM_BASE/state
SlurmdSpoolDir=$SLURM_BASE/spool
SlurmctldPidFile=$RUN/slurmctld.daemon.pid
SlurmdPidFile=$RUN/slurmd.daemon.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups anywhere
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
# default batch_sched_delay=3 can delay the start of a just-submitted job by ~3 s
SchedulerParameters=batch_sched_delay=0
# a job whose dependency can never be satisfied is cancelled (default: PENDING forever)
DependencyParameters=kill_invalid_depend
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# trust the CPUs/RealMemory below instead of draining on hardware mismatch
SlurmdParameters=config_overrides
ReturnToService=2
# keep finished jobs visible to scontrol for 5 minutes
MinJobAge=300
KillWait=5
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$NODE_CPUS RealMemory=$NODE_MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

# wait_up NAME TIMEOUT_S CHECK...: like retry, but fail fast if daemon NAME died
wait_up() {
  local name=$1 timeout=$2; shift 2
  local deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    # no comm check here: right after fork the child may not have exec'd yet
    alive "$(pid_of "$name")" || { log "$name exited during startup"; return 1; }
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

munge_ok() { munge -n -S "$MUNGE_SOCK" | unmunge -S "$MUNGE_SOCK"; }
ctld_up() { scontrol ping | grep -q 'is UP'; }
node_idle() { scontrol show node localhost -o | grep -Eq 'State=IDLE( |$)'; }

cmd_start() {
  # unix sockets (munge, slurmstepd: $SLURM_BASE/spool/localhost_<job>.<step>) are
  # limited to 108 bytes; a too-long base makes every job launch fail (held forever)
  if [ "${#SLURM_BASE}" -gt 70 ]; then log "ERROR: SLURM_BASE longer than 70 chars"; exit 1; fi
  for d in munged slurmctld slurmd; do
    if alive "$(pid_of $d)" "$d"; then log "ERROR: $d already running (pid $(pid_of $d)); run stop first"; exit 1; fi
  done
  rm -rf "$SLURM_BASE"
  mkdir -p "$SLURM_BASE"/{etc,state,spool,out} "$RUN" "$LOG" "$MUNGE_DIR"
  chmod 755 "$SLURM_BASE" "$MUNGE_DIR"   # munged: socket dir must be a+x
  write_conf

  mungekey -c -k "$MUNGE_DIR/munge.key" 2>/dev/null \
    || dd if=/dev/urandom of="$MUNGE_DIR/munge.key" bs=1024 count=1 status=none
  chmod 400 "$MUNGE_DIR/munge.key"
  # --force: only warn (not exit) when an ancestor dir of the socket is not a+x,
  # e.g. SLURM_BASE inside a 0700 Deno.makeTempDir(); clients here are root anyway
  spawn munged munged -F --force --key-file="$MUNGE_DIR/munge.key" --socket="$MUNGE_SOCK" \
    --pid-file="$MUNGE_DIR/munged.pid" --seed-file="$MUNGE_DIR/munged.seed"
  wait_up munged 10 munge_ok || fail_start "munged did not come up"

  spawn slurmctld slurmctld -D -f "$CONF"
  wait_up slurmctld 30 ctld_up || fail_start "slurmctld did not come up"

  spawn slurmd slurmd -D -N localhost -f "$CONF"
  wait_up slurmd 30 node_idle || fail_start "node did not become IDLE"
  log "cluster up"
  echo "export SLURM_CONF=$CONF"   # stdout: eval "$(cluster.sh start)"
}

stop_pid() {  # stop_pid NAME: SIGTERM, wait up to 15 s, then SIGKILL
  local name=$1 pid; pid=$(pid_of "$name")
  alive "$pid" "$name" || { rm -f "$RUN/$name.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  if ! retry 15 dead "$pid"; then
    log "$name pid $pid ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    retry 5 dead "$pid" || log "WARNING: $name pid $pid still alive"
  fi
  rm -f "$RUN/$name.pid"
  log "stopped $name pid $pid"
}

no_jobs() { [ -z "$(squeue -h -o %A)" ]; }
# each running job step has a unix socket in the spool dir until its slurmstepd exits
no_steps() { [ -z "$(find "$SLURM_BASE/spool" -type s 2>/dev/null)" ]; }

cmd_stop() {
  if alive "$(pid_of slurmctld)" slurmctld && ctld_up; then
    local jobs; jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      log "cancelling jobs: $jobs"
      # shellcheck disable=SC2086
      scancel $jobs || true
      retry 20 no_jobs || log "WARNING: jobs still listed by squeue"
    fi
  fi
  # let slurmstepd (started by slurmd, not by us) finish before slurmd goes away
  retry 20 no_steps || log "WARNING: slurmstepd still running: $(find "$SLURM_BASE/spool" -type s)"
  stop_pid slurmd
  stop_pid slurmctld
  stop_pid munged
}

# cmd_wait JOBID [TIMEOUT_S]
cmd_wait() {
  [ -n "${1:-}" ] || { echo "usage: $0 wait JOBID [TIMEOUT_S]" >&2; exit 64; }
  local id=$1 timeout=${2:-120}
  local deadline=$(( $(date +%s) + timeout )) out states=''
  while :; do
    if out=$(scontrol show job -o "$id" 2>&1); then
      states=$(grep -o 'JobState=[A-Z_]*' <<<"$out" | cut -d= -f2 | sort | uniq -c | tr -s ' \n' ' ')
      if ! grep -Eq 'JobState=(PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESIZING|SIGNALING|STAGE_OUT|STOPPED|RESV_DEL_HOLD)' <<<"$out"; then
        echo "job $id:$states"
        grep -q 'JobState=' <<<"$out" || return 1
        ! grep -Eo 'JobState=[A-Z_]+' <<<"$out" | grep -vq 'JobState=COMPLETED$'
        return
      fi
    else
      log "scontrol: $out"; return 1
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { echo "job $id: TIMEOUT,$states"; return 2; }
    sleep 0.2
  done
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  wait) shift; SLURM_CONF=${CALLER_CONF:-$CONF} cmd_wait "$@" ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 start|stop|wait JOBID [TIMEOUT_S]|env" >&2; exit 64 ;;
esac
