#!/bin/sh
# stop-local.sh: stop the one-host Slurm that tests/slurm/start-local.sh
# started, and only that: the processes named in its pid files under
# $VB_SLURM_DIR (default ${TMPDIR:-/tmp}/vadbench-slurm). Jobs still in the
# queue are cancelled first, while slurmctld answers (stopping slurmd leaves
# running jobs' slurmstepd alive), then slurmd, slurmctld, and munged last.
# Idempotent: nothing to stop is not an error. The state directory is
# removed unless VB_SLURM_KEEP=1 (its logs help when a test failed).
set -u

D=${VB_SLURM_DIR:-${TMPDIR:-/tmp}/vadbench-slurm}
CONF=$D/slurm.conf
PATH=$PATH:/usr/sbin:/sbin

[ -d "$D" ] || exit 0

# alive PID: exists and is not a zombie
alive() {
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case "$st" in Z*) return 1 ;; esac
    return 0
}

stop_pidfile() {
    f=$1
    [ -s "$f" ] || return 0
    pid=$(cat "$f")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        i=0
        while alive "$pid" && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$f"
}

if [ -s "$D/slurmctld.pid" ] && alive "$(cat "$D/slurmctld.pid")" && [ -f "$CONF" ]; then
    SLURM_CONF=$CONF scancel --full --user="$(id -un)" >/dev/null 2>&1 || true
    SLURM_CONF=$CONF scancel --full --state=PENDING >/dev/null 2>&1 || true
    # give running batch steps a moment to end (they belong to this cluster)
    i=0
    while [ -n "$(SLURM_CONF=$CONF squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ] &&
        [ $i -lt 30 ]; do
        sleep 0.2
        i=$((i + 1))
    done
fi
stop_pidfile "$D/slurmd.pid"
stop_pidfile "$D/slurmctld.pid"
stop_pidfile "$D/munged.pid"
rm -f "$D/munge/munged.pid"
if [ "${VB_SLURM_KEEP:-0}" != 1 ]; then rm -rf "$D"; fi
exit 0
