#!/usr/bin/env bash
# Stop the daemons that tests/slurm/up.sh started, by the PIDs it recorded
# (never by name), in reverse order; wait at most 20 s for each, then SIGKILL.
# Daemons that were running before up.sh are left alone.
#
# Usage: tests/slurm/down.sh [--purge]
#   --purge  also delete what up.sh created: its configuration files in
#            /etc/slurm, the controller and node state, and the accounting
#            database, so that the next up.sh starts from scratch.
set -euo pipefail

STATE=${LYAPUNOV_SLURM_STATE:-/run/lyapunov-slurm}
MARK="# Written by lyapunov_rnn tests/slurm/up.sh"
purge=false
case ${1:-} in
    --purge) purge=true ;;
    "") ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

log() { printf '[slurm-down] %s\n' "$*" >&2; }

stop() {  # stop NAME EXE
    local file="$STATE/$1.pid" pid start
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        start=$SECONDS
        while [ -e "/proc/$pid" ] && (( SECONDS - start < 20 )); do
            sleep 0.2
        done
        if [ -e "/proc/$pid" ]; then
            log "$1 (pid $pid) ignored SIGTERM for 20 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $1 (pid $pid)"
    else
        log "$1 (pid ${pid:-?}) is not running"
    fi
    rm -f "$file"
}

stop slurmd slurmd
stop slurmctld slurmctld
stop slurmdbd slurmdbd
if $purge && [ -f "$STATE/mariadbd.pid" ]; then
    timeout 20 mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db; DROP USER IF EXISTS 'slurm'@'localhost';" \
        || log "could not drop the accounting database"
fi
stop mariadbd mariadbd
stop munged munged

if $purge; then
    for file in /etc/slurm/slurm.conf /etc/slurm/gres.conf /etc/slurm/slurmdbd.conf; do
        if [ -f "$file" ] && grep -qF "$MARK" "$file"; then
            rm -f "$file"
            log "removed $file"
        fi
    done
    rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/*
    rmdir "$STATE" 2>/dev/null || true
    log "purged"
fi
