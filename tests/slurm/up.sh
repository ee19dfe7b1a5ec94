#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on this machine for tests/test_slurm.py:
# munged, mariadbd, slurmdbd (so that sacct works), slurmctld and slurmd, all
# on loopback, without systemd. One node `localhost` with every CPU, most of
# the memory and one fake GPU (gres.conf File=/dev/null).
#
# Needs root and the Debian packages installed by tests/slurm/install.sh.
# Idempotent: daemons that already answer are left alone; every wait is
# bounded. The PIDs of the daemons this script starts are recorded under
# $LYAPUNOV_SLURM_STATE (default /run/lyapunov-slurm) for tests/slurm/down.sh,
# which stops those and nothing else.
#
# Usage: tests/slurm/up.sh            (about 2-15 s)
set -euo pipefail

STATE=${LYAPUNOV_SLURM_STATE:-/run/lyapunov-slurm}
WAIT=${LYAPUNOV_SLURM_WAIT:-60}     # seconds allowed for each daemon to answer
CLUSTER=lyapunov
ACCOUNT=lyapunov-test
PARTITION=debug
DB_PASS=lyapunov-test-only          # local throwaway database bound to 127.0.0.1
MARK="# Written by lyapunov_rnn tests/slurm/up.sh; tests/slurm/down.sh --purge removes it."
CONF=/etc/slurm

log() { printf '[slurm-up] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it starts system daemons)"
for exe in munged mungekey mariadbd slurmdbd slurmctld slurmd sinfo sacctmgr scontrol; do
    command -v "$exe" >/dev/null 2>&1 || [ -x "/usr/sbin/$exe" ] \
        || die "$exe not found: run tests/slurm/install.sh first"
done
export PATH="/usr/sbin:$PATH"

# wait_for SECONDS WHAT COMMAND...: poll COMMAND every 0.5 s until it succeeds.
wait_for() {
    local limit=$1 what=$2 start=$SECONDS
    shift 2
    until "$@" >/dev/null 2>&1; do
        if (( SECONDS - start >= limit )); then
            return 1
        fi
        sleep 0.5
    done
    log "$what ready after $(( SECONDS - start )) s"
}

# ours NAME EXE: the daemon recorded as started by us is still running.
ours() {
    local pid
    [ -f "$STATE/$1.pid" ] || return 1
    pid=$(cat "$STATE/$1.pid")
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

# record NAME PIDFILE: remember the PID a daemon wrote as started by us.
record() {
    local pid
    wait_for 10 "$1 pid file" test -s "$2" || die "$1 wrote no pid file $2"
    pid=$(cat "$2")
    echo "$pid" > "$STATE/$1.pid"
    log "started $1 (pid $pid)"
}

write_if_changed() {  # write_if_changed PATH MODE OWNER < content
    local tmp
    tmp=$(mktemp)
    cat > "$tmp"
    if [ -e "$1" ] && ! grep -qF "$MARK" "$1"; then
        rm -f "$tmp"
        die "$1 exists and was not written by this script; refusing to overwrite it"
    fi
    if ! cmp -s "$tmp" "$1" 2>/dev/null; then
        install -m "$2" -o "$3" -g "$3" "$tmp" "$1"
        log "wrote $1"
    fi
    rm -f "$tmp"
}

mkdir -p "$STATE" "$CONF"

# --- munge ------------------------------------------------------------------
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge /etc/munge
if [ ! -s /etc/munge/munge.key ]; then
    runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
fi
munge_ok() { munge -n | unmunge; }
if munge_ok >/dev/null 2>&1; then
    log "munged already running"
else
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    record munged /run/munge/munged.pid
    wait_for "$WAIT" munged munge_ok || die "munged does not answer"
fi

# --- mariadb (accounting storage for slurmdbd) ------------------------------
install -d -o mysql -g mysql -m 0755 /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
fi
db_ok() { timeout 5 mariadb-admin --silent ping; }
if db_ok >/dev/null 2>&1; then
    log "mariadbd already running"
else
    setsid /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql \
        --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid \
        --bind-address=127.0.0.1 >>/var/log/lyapunov-slurm-mariadb.log 2>&1 < /dev/null &
    echo $! > "$STATE/mariadbd.pid"
    log "started mariadbd (pid $!)"
    wait_for "$WAIT" mariadbd db_ok || die "mariadbd does not answer; see /var/log/lyapunov-slurm-mariadb.log"
fi
timeout 20 mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

# --- configuration ----------------------------------------------------------
read -r -a hw < <(slurmd -C | head -1)   # NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105
node=()
for field in "${hw[@]}"; do
    case $field in
        NodeName=*) ;;
        RealMemory=*) node+=("RealMemory=$(( ${field#RealMemory=} * 9 / 10 ))") ;;  # leave room for the OS
        *) node+=("$field") ;;
    esac
done
install -d -o slurm -g slurm -m 0755 /run/slurm /var/log/slurm /var/lib/slurm \
    /var/lib/slurm/slurmctld /var/lib/slurm/slurmd

write_if_changed "$CONF/slurm.conf" 0644 root <<EOF
$MARK
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroups without systemd: track processes through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# CPUs and memory are consumable, so jobs with a DefMemPerCPU share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
# Reject jobs larger than the node instead of leaving them pending forever.
EnforcePartLimits=ALL
GresTypes=gpu
ReturnToService=2
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
# sacct (Snakemake's job status) needs accounting; record GPUs in AllocTRES.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
# Jobs must name an account the user belongs to, as on a real cluster.
AccountingStorageEnforce=associations
JobCompType=jobcomp/none
NodeName=localhost NodeAddr=127.0.0.1 ${node[*]} Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

write_if_changed "$CONF/gres.conf" 0644 root <<EOF
$MARK
# A fake GPU: enough for the scheduler to allocate and account gres/gpu.
AutoDetect=off
NodeName=localhost Name=gpu File=/dev/null
EOF

write_if_changed "$CONF/slurmdbd.conf" 0600 slurm <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=/run/slurm/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF

# --- slurmdbd, cluster, account ---------------------------------------------
dbd_ok() { timeout 10 sacctmgr -n -P list cluster format=cluster; }
if ours slurmdbd slurmdbd || pgrep -x slurmdbd >/dev/null; then
    log "slurmdbd already running"
else
    rm -f /run/slurm/slurmdbd.pid
    slurmdbd
    record slurmdbd /run/slurm/slurmdbd.pid
fi
wait_for "$WAIT" slurmdbd dbd_ok || die "slurmdbd does not answer; see /var/log/slurm/slurmdbd.log"
if ! dbd_ok | grep -qx "$CLUSTER"; then
    timeout 20 sacctmgr -i add cluster "$CLUSTER" >/dev/null
fi
if [ -z "$(timeout 10 sacctmgr -n -P list account "$ACCOUNT" format=account)" ]; then
    timeout 20 sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=tests Organization=tests >/dev/null
fi
for user in root ${SUDO_USER:-}; do
    if [ -z "$(timeout 10 sacctmgr -n -P show assoc where user="$user" account="$ACCOUNT" format=user)" ]; then
        timeout 20 sacctmgr -i add user "$user" Account="$ACCOUNT" >/dev/null
    fi
done

# --- slurmctld and slurmd ---------------------------------------------------
ctld_ok() { timeout 10 scontrol ping | grep -q UP; }
if ctld_ok >/dev/null 2>&1; then
    log "slurmctld already running"
else
    rm -f /run/slurm/slurmctld.pid
    slurmctld
    record slurmctld /run/slurm/slurmctld.pid
    wait_for "$WAIT" slurmctld ctld_ok || die "slurmctld does not answer; see /var/log/slurm/slurmctld.log"
fi

node_state() { timeout 10 sinfo -h -N -n localhost -o %T 2>/dev/null; }
if ours slurmd slurmd || pgrep -x slurmd >/dev/null; then
    log "slurmd already running"
else
    rm -f /run/slurm/slurmd.pid
    slurmd -N localhost
    record slurmd /run/slurm/slurmd.pid
fi
node_up() { case $(node_state) in idle*|mixed*|allocated*|completing*) return 0 ;; *) return 1 ;; esac; }
if ! wait_for "$WAIT" "node localhost" node_up; then
    # A node left down or drained by an earlier run: resume it once.
    timeout 10 scontrol update NodeName=localhost State=RESUME || true
    wait_for 30 "node localhost (resumed)" node_up \
        || die "node localhost is '$(node_state)'; see /var/log/slurm/slurmd.log and slurmctld.log"
fi
log "cluster '$CLUSTER' up: partition $PARTITION, account $ACCOUNT, $(timeout 10 sinfo -h -N -o '%c CPUs %m MB %G')"
