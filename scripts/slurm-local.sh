#!/usr/bin/env bash
# Start (or stop) a one-node Slurm cluster on this machine, on loopback, for machine/slurm-local.json.
#
#   scripts/slurm-local.sh          install if needed, start munged + slurmctld + slurmd, wait until idle
#   scripts/slurm-local.sh stop     stop the daemons this script started (by their pid files)
#   scripts/slurm-local.sh status   print sinfo and exit 0 when the node is usable
#
# Idempotent and fast when the cluster already answers. Needs root to install and start daemons
# (Debian/Ubuntu: apt-get install slurm-wlm munge). One node named after `hostname -s` with all
# CPUs, partition "debug" (Default=YES), no cgroups (proctrack/linuxproc, task/none), so it also
# runs inside containers. Job records go to $SLURM_LOG_DIR/jobcomp.log (no slurmdbd, so no sacct).
# On failure it prints one line starting with "slurm-local: " on stderr and exits nonzero.
set -u

PARTITION="${SLURM_LOCAL_PARTITION:-debug}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
SLURM_LOG_DIR=/var/log/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
RUN_DIR=/run/slurm
CTLD_PID="$RUN_DIR/slurmctld.pid"
SLURMD_PID="$RUN_DIR/slurmd.pid"
MUNGE_PID=/run/munge/munged.pid
NODE="$(hostname -s 2>/dev/null || hostname)"
WAIT_S="${SLURM_LOCAL_WAIT_S:-60}"

fail() {
    echo "slurm-local: $*" >&2
    exit 1
}

node_usable() {
    # the node answers and takes jobs: idle, mixed or allocated (not down/drained/not responding)
    local state
    state="$(sinfo -h -n "$NODE" -o '%t' 2>/dev/null | head -n1)" || return 1
    case "$state" in
        idle | mix | alloc | comp) return 0 ;;
        *) return 1 ;;
    esac
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {
    local pidfile="$1" name="$2" pid
    if pid_alive "$pidfile"; then
        pid="$(cat "$pidfile")"
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        echo "slurm-local: stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

case "${1:-start}" in
    stop)
        stop_pidfile "$SLURMD_PID" slurmd
        stop_pidfile "$CTLD_PID" slurmctld
        stop_pidfile "$MUNGE_PID" munged
        exit 0
        ;;
    status)
        command -v sinfo >/dev/null 2>&1 || fail "sinfo not found: Slurm is not installed"
        sinfo
        node_usable || fail "node $NODE is not idle/mix/alloc"
        exit 0
        ;;
    start) ;;
    *) fail "unknown argument '$1' (use: start, stop, status)" ;;
esac

MARKER="# Written by scripts/slurm-local.sh"
ours_conf() { [ ! -e "$CONF" ] || head -n1 "$CONF" | grep -qF "$MARKER"; }

# ---- fast path: already running and usable (ask sinfo only when a controller may be up: a
# sinfo without one retries for ~10 s)
if command -v sbatch >/dev/null 2>&1 && { pid_alive "$CTLD_PID" || ! ours_conf; } && node_usable; then
    echo "slurm-local: already running, node $NODE in partition $PARTITION is usable"
    exit 0
fi

# ---- install
if ! command -v sbatch >/dev/null 2>&1 || ! command -v slurmctld >/dev/null 2>&1 \
    || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || fail "Slurm is not installed and we are not root: install slurm-wlm and munge (apt-get install slurm-wlm munge)"
    command -v apt-get >/dev/null 2>&1 || fail "Slurm is not installed and there is no apt-get to install slurm-wlm and munge"
    echo "slurm-local: installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    install_log="$(mktemp)"
    if ! apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends slurm-wlm munge >"$install_log" 2>&1; then
        if grep -qE "Unable to locate package|has no installation candidate" "$install_log"; then
            apt-get update -o DPkg::Lock::Timeout=600 >>"$install_log" 2>&1
            apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends slurm-wlm munge >>"$install_log" 2>&1 \
                || fail "apt-get install slurm-wlm munge failed: $(grep -E '^E:' "$install_log" | tail -n1) (log: $install_log)"
        else
            fail "apt-get install slurm-wlm munge failed: $(grep -E '^E:' "$install_log" | tail -n1) (log: $install_log)"
        fi
    fi
    rm -f "$install_log"
    hash -r
    command -v slurmctld >/dev/null 2>&1 || fail "slurmctld still missing after apt-get install slurm-wlm"
fi

[ "$(id -u)" -eq 0 ] || fail "Slurm is installed but not running, and starting munged/slurmctld/slurmd needs root"

# ---- munge
if ! id munge >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin munge 2>/dev/null || true
fi
MUNGE_USER=munge
id munge >/dev/null 2>&1 || MUNGE_USER=root
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
fi
chown -R "$MUNGE_USER:$MUNGE_USER" /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    rm -f "$MUNGE_PID" /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    if [ "$MUNGE_USER" = root ]; then
        munged --force >/dev/null 2>&1
    else
        runuser -u munge -- munged >/dev/null 2>&1 || munged --force >/dev/null 2>&1
    fi
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 \
        || fail "munged does not start or does not answer: $(tail -n1 /var/log/munge/munged.log 2>/dev/null)"
fi

# ---- slurm.conf (rewritten only when its content changes; never one this script did not write)
ours_conf || [ "${SLURM_LOCAL_FORCE:-0}" = 1 ] \
    || fail "$CONF was not written by this script and Slurm is not usable: not overwriting it (set SLURM_LOCAL_FORCE=1 to replace it)"
CPUS="$(nproc)"
MEM_MB="$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)"
MARGIN=$((MEM_MB / 20))
[ "$MARGIN" -lt 512 ] && MARGIN=512
REAL_MEM=$((MEM_MB - MARGIN))
[ "$REAL_MEM" -lt 1 ] && REAL_MEM=1
mkdir -p "$CONF_DIR" "$SLURM_LOG_DIR" "$STATE_DIR" "$SPOOL_DIR" "$RUN_DIR"
new_conf="$(cat <<EOF
$MARKER: one node on loopback, no cgroups, no accounting daemon.
ClusterName=llzo-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$SLURM_LOG_DIR/slurmctld.log
SlurmdLogFile=$SLURM_LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_LOG_DIR/jobcomp.log
MinJobAge=600
InactiveLimit=0
KillWait=30
Waittime=0
SlurmctldTimeout=120
SlurmdTimeout=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
)"
conf_changed=0
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$new_conf" ]; then
    printf '%s\n' "$new_conf" >"$CONF"
    conf_changed=1
fi
# Debian's packages read /etc/slurm/slurm.conf; some builds look in /etc/slurm-llnl
if [ -d /etc/slurm-llnl ] && [ ! -e /etc/slurm-llnl/slurm.conf ]; then ln -s "$CONF" /etc/slurm-llnl/slurm.conf; fi

# ---- daemons
if [ "$conf_changed" -eq 1 ]; then
    # a running daemon with another configuration: restart it
    stop_pidfile "$SLURMD_PID" slurmd >/dev/null
    stop_pidfile "$CTLD_PID" slurmctld >/dev/null
fi
if ! pid_alive "$CTLD_PID"; then
    slurmctld -f "$CONF" >/dev/null 2>&1 || fail "slurmctld does not start: $(tail -n1 "$SLURM_LOG_DIR/slurmctld.log" 2>/dev/null)"
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
scontrol ping 2>/dev/null | grep -q UP \
    || fail "slurmctld does not answer: $(tail -n1 "$SLURM_LOG_DIR/slurmctld.log" 2>/dev/null)"
if ! pid_alive "$SLURMD_PID"; then
    slurmd -f "$CONF" >/dev/null 2>&1 || fail "slurmd does not start: $(tail -n1 "$SLURM_LOG_DIR/slurmd.log" 2>/dev/null)"
fi

deadline=$((SECONDS + WAIT_S))
resumed=0
while [ "$SECONDS" -lt "$deadline" ]; do
    node_usable && break
    state="$(sinfo -h -n "$NODE" -o '%t' 2>/dev/null | head -n1)"
    case "$state" in
        down* | drain* | drng*)
            if [ "$resumed" -eq 0 ]; then
                scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1
                resumed=1
            fi
            ;;
    esac
    pid_alive "$SLURMD_PID" || fail "slurmd died: $(tail -n1 "$SLURM_LOG_DIR/slurmd.log" 2>/dev/null)"
    sleep 0.5
done
if ! node_usable; then
    reason="$(sinfo -h -n "$NODE" -o '%t %E' 2>/dev/null | head -n1)"
    fail "node $NODE did not become idle within ${WAIT_S}s (state: ${reason:-none}); see $SLURM_LOG_DIR/slurmd.log"
fi
echo "slurm-local: running, node $NODE ($CPUS CPUs, ${REAL_MEM} MB) idle in partition $PARTITION"
