#!/bin/sh
# start-local.sh: start a real one-host Slurm cluster for the tests (Debian's
# munge, slurmctld, slurmd and slurm-client; `harness/deps.sh --slurm`
# installs them) without systemd, with every file under one state directory:
#   $VB_SLURM_DIR (default ${TMPDIR:-/tmp}/vadbench-slurm)
# munged runs with its own key, socket, pid and log there; slurm.conf uses
# proctrack/linuxproc, no cgroups, no accounting, a jobcomp text file
# (jobcomp.txt: every finished job's state and exit code), one node
# (localhost, from `slurmd -C`) and one partition (`debug`). The script waits
# until the node is idle, then prints the line a shell needs:
#   export SLURM_CONF=$VB_SLURM_DIR/slurm.conf
# Idempotent: a cluster this script started and that still runs is left as it
# is. It refuses (exit 1) when Slurm's ports 6817/6818 are taken by anything
# else. tests/slurm/stop-local.sh stops exactly what this started (pid files).
# ../shared/SLURM.md has the measurements behind each setting.
set -eu

D=${VB_SLURM_DIR:-${TMPDIR:-/tmp}/vadbench-slurm}
CONF=$D/slurm.conf
say() { echo "start-local: $*" >&2; }

for p in munged slurmctld slurmd sinfo sbatch; do
    command -v "$p" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    command -v "$p" >/dev/null 2>&1 || {
        say "$p not found: install Slurm with 'sh harness/deps.sh --slurm' (as root)"
        exit 1
    }
done

# alive PIDFILE: the process named in the pid file exists and is not a zombie
alive() {
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    st=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    case "$st" in Z*) return 1 ;; esac
    return 0
}

node_state() { SLURM_CONF=$CONF sinfo -h -n localhost -o %T 2>/dev/null | head -n 1; }

if alive "$D/munged.pid" && alive "$D/slurmctld.pid" && alive "$D/slurmd.pid"; then
    say "already running (state in $D)"
    echo "export SLURM_CONF=$CONF"
    exit 0
fi
# a partial cluster from an earlier start: stop what is left, then start afresh
if [ -d "$D" ]; then sh "$(dirname "$0")/stop-local.sh" >/dev/null 2>&1 || true; fi

if ss -Hltn 2>/dev/null | awk '{print $4}' | grep -Eq ':(6817|6818)$'; then
    say "port 6817 or 6818 is in use by another program (another Slurm?); not starting"
    exit 1
fi

mkdir -p "$D/state" "$D/spool" "$D/munge"
chmod 755 "$D" "$D/munge"
user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    munge_user=munge
    slurm_user=root
else
    munge_user=$user
    slurm_user=$user
fi
# a key of our own: a fresh random one each start
if [ ! -s "$D/munge/munge.key" ]; then
    dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
fi
chmod 600 "$D/munge/munge.key"
[ "$munge_user" = "$user" ] || chown -R "$munge_user" "$D/munge"

node=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/')
cat >"$CONF" <<EOF
# one-host Slurm for vadbench's tests (tests/slurm/start-local.sh)
ClusterName=vadbench
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=$slurm_user
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket.2,cred_expire=10
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
ReturnToService=2
MailProg=/bin/true
DependencyParameters=kill_invalid_depend
MinJobAge=5
KillWait=10
SchedulerParameters=sched_interval=2
$node State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
[ "$(id -u)" -eq 0 ] && [ "$user" = root ] || sed -i -e '/^SlurmdUser=/d' "$CONF"

runas() {
    if [ "$1" = "$user" ]; then
        shift
        "$@"
    else
        u=$1
        shift
        runuser -u "$u" -- "$@"
    fi
}
runas "$munge_user" munged --socket="$D/munge/munge.socket.2" --key-file="$D/munge/munge.key" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" \
    --seed-file="$D/munge/munged.seed" --force
cp "$D/munge/munged.pid" "$D/munged.pid"

export SLURM_CONF=$CONF
slurmctld -f "$CONF" -c
slurmd -f "$CONF" -N localhost -c

# wait for `idle`; the daemons fork before they bind, so a failure shows only
# as a dead daemon (and a line in its log)
i=0
while [ "$(node_state)" != idle ]; do
    for dmn in munged slurmctld slurmd; do
        sleep 0.1
        if [ -s "$D/$dmn.pid" ] || [ $i -gt 20 ]; then
            alive "$D/$dmn.pid" || {
                say "$dmn did not start; its log:"
                tail -n 5 "$D/$dmn.log" "$D/munge/munged.log" 2>/dev/null >&2 || true
                sh "$(dirname "$0")/stop-local.sh" >/dev/null 2>&1 || true
                exit 1
            }
        fi
    done
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        say "the node did not become idle within ~30 s (state: $(node_state)); see $D/*.log"
        sh "$(dirname "$0")/stop-local.sh" >/dev/null 2>&1 || true
        exit 1
    fi
done
say "one-host Slurm up (state in $D)"
echo "export SLURM_CONF=$CONF"
