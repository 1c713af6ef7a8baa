# tests/slurm-cluster.sh: a real Slurm cluster on this one machine, for
# the tests (sourced, bash; needs root and Debian's slurm-wlm, slurmdbd,
# munge and mariadb-server).  Everything lives under $S and listens on
# 127.0.0.1 ports of its own:
#
#	munged		its own key and socket
#	mariadbd	the accounting database, for slurmdbd
#	slurmdbd	so that sacct knows jobs the controller has forgotten
#	slurmctld	MinJobAge=2: it forgets ended jobs within seconds
#	slurmd x 3	nodes n1 and n2 (partition debug, the default) and
#			n3 (partition slow), each 2 CPUs and one "GPU": a
#			gres whose device file is /dev/null (Slurm only
#			wants a character device)
#
# slurm_up starts it all and waits until both nodes are idle; slurm_down
# stops it (call it from the test's EXIT trap).
#
# With SLURM_PLAIN=1, the cluster as many small labs run it: no
# accounting (AccountingStorageType=accounting_storage/none, no MariaDB,
# no slurmdbd: sacct cannot answer), no GPU gres, and the controller's
# default MinJobAge (300 s).

slurm_up() {
	local try
	S=$T/slurm
	# A port free_port found free may be taken by another test before
	# a daemon binds it (the suites run side by side): start again on
	# new ports.
	for try in 1 2 3; do
		slurm_try && return 0
		[ $try = 3 ] && break
		echo "slurm_up: try $try failed, again on other ports" >&2
		slurm_down
		rm -rf "$S"
	done
	echo "slurm_up: the cluster did not come up; its logs:" >&2
	tail -n 5 "$S"/log/* >&2
	return 1
}

slurm_try() {
	local host p_ctld p_dbd p_db p_n1 p_n2 p_n3 i
	host=$(hostname -s)
	mkdir -p "$S"/munge "$S"/state "$S"/spool/n1 "$S"/spool/n2 \
	    "$S"/spool/n3 "$S"/log
	chmod 755 "$S" "$S/munge"
	p_ctld=$(free_port) p_dbd=$(free_port) p_db=$(free_port)
	p_n1=$(free_port) p_n2=$(free_port) p_n3=$(free_port)

	head -c 1024 /dev/urandom > "$S/munge/key"
	chmod 400 "$S/munge/key"
	munged --force --origin=127.0.0.1 --socket="$S/munge/sock" \
	    --key-file="$S/munge/key" \
	    --log-file="$S/log/munged.log" --pid-file="$S/munge/pid" \
	    --seed-file="$S/munge/seed" || return 1
	[ -n "${SLURM_PLAIN:-}" ] || slurm_db "$p_db" "$p_dbd" || return 1
	slurm_conf "$host" "$p_ctld" "$p_dbd" "$p_n1" "$p_n2" "$p_n3"
	export SLURM_CONF=$S/slurm.conf
	# slurmd wants a cgroup file system, even with no cgroup plugin in
	# use; a chroot (a bare container) has none.  Then it gets the v1
	# layout it looks for, for the test's life only.
	S_CGROUP=
	if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = sysfs ]; then
		mount -t tmpfs -o mode=755 swh-cgroup /sys/fs/cgroup &&
		    S_CGROUP=1 && mkdir /sys/fs/cgroup/systemd &&
		    mount -t cgroup -o none,name=systemd swh-cgroup \
		    /sys/fs/cgroup/systemd || return 1
	fi
	if [ -z "${SLURM_PLAIN:-}" ]; then
		slurmdbd || return 1
		for i in $(seq 100); do
			(exec 3<>"/dev/tcp/127.0.0.1/$p_dbd") 2>/dev/null &&
			    break
			sleep 0.1
		done
	fi
	slurmctld || return 1
	slurmd -N n1 && slurmd -N n2 && slurmd -N n3 || return 1
	for i in $(seq 300); do
		[ "$(sinfo -h -o '%T' 2>/dev/null | sort -u)" = idle ] &&
		    { [ -n "${SLURM_PLAIN:-}" ] ||
		    sacct -n -X -S now > /dev/null 2>&1; } && return 0
		grep -qs "Address already in use" "$S"/log/* && return 1
		sleep 0.1
	done
	return 1
}

# slurm_db DB_PORT DBD_PORT: MariaDB and slurmdbd's configuration.
slurm_db() {
	local p_db=$1 p_dbd=$2 i

	# --force: a machine whose own name does not resolve (no /etc/hosts
	# in a bare container) is no matter to a database on a socket.
	mariadb-install-db --no-defaults --datadir="$S/db" --user=root \
	    --auth-root-authentication-method=normal --skip-test-db --force \
	    > "$S/log/mariadb-install.log" 2>&1 || return 1
	mariadbd --no-defaults --datadir="$S/db" --user=root \
	    --socket="$S/db.sock" --port="$p_db" --bind-address=127.0.0.1 \
	    --pid-file="$S/db.pid" --log-error="$S/log/mariadb.log" \
	    --innodb-buffer-pool-size=16M --skip-name-resolve \
	    > /dev/null 2>&1 &
	for i in $(seq 100); do [ -S "$S/db.sock" ] && break; sleep 0.1; done
	mariadb --no-defaults -S "$S/db.sock" -u root -e \
	    "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
	     GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || return 1

	cat > "$S/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$p_dbd
SlurmUser=root
LogFile=$S/log/slurmdbd.log
PidFile=$S/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$p_db
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
	chmod 600 "$S/slurmdbd.conf"
}

# slurm_conf HOST CTLD_PORT DBD_PORT N1 N2 N3: slurm.conf (and gres.conf).
slurm_conf() {
	local host=$1 p_ctld=$2 p_dbd=$3 p_n1=$4 p_n2=$5 p_n3=$6 acct gres
	if [ -n "${SLURM_PLAIN:-}" ]; then
		acct="AccountingStorageType=accounting_storage/none"
		gres=
	else
		acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$p_dbd
AccountingStoragePass=$S/munge/sock
MinJobAge=2
GresTypes=gpu"
		gres=" Gres=gpu:1"
	fi
	cat > "$S/slurm.conf" <<EOF
ClusterName=swh
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$p_ctld
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool/%n
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd-%n.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_min_interval=500000
KillWait=2
InactiveLimit=0
$acct
JobCompType=jobcomp/none
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$p_n1 CPUs=2 RealMemory=1000$gres State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$p_n2 CPUs=2 RealMemory=1000$gres State=UNKNOWN
NodeName=n3 NodeHostname=$host NodeAddr=127.0.0.1 Port=$p_n3 CPUs=2 RealMemory=1000$gres State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
PartitionName=slow Nodes=n3 MaxTime=INFINITE State=UP
EOF
	[ -z "$gres" ] ||
	    echo "NodeName=n[1-3] Name=gpu File=/dev/null" > "$S/gres.conf"
}

# slurm_ctld_stop, slurm_ctld_start: the controller stopped (SIGTERM: it
# saves its state, as on a restart) and started again, as an admin does.
slurm_ctld_stop() {
	local p
	p=$(cat "$S/slurmctld.pid" 2>/dev/null) || return 1
	kill "$p" 2>/dev/null
	wait_for 30 bash -c "! kill -0 $p 2>/dev/null"
}
slurm_ctld_start() {
	SLURM_CONF=$S/slurm.conf slurmctld || return 1
	wait_for 30 bash -c "SLURM_CONF=$S/slurm.conf squeue -h > /dev/null 2>&1"
}

# stop_supervisors: the supervisors of the test's run directories poll
# Slurm until their job ends: none may outlive the test (its EXIT trap).
stop_supervisors() {
	local f p
	for f in "$T"/runs*/*/job.json; do
		p=$(jq -r '.supervisor // empty' "$f" 2>/dev/null)
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	return 0
}

slurm_down() {
	local f
	[ -n "${S:-}" ] || return 0
	# Jobs first: their steps outlive slurmd otherwise.
	SLURM_CONF=$S/slurm.conf scancel --user="$(id -un)" 2> /dev/null &&
	    sleep 3
	for f in "$S"/slurmd-n?.pid "$S"/slurmctld.pid "$S"/slurmdbd.pid \
	    "$S"/db.pid "$S"/munge/pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	sleep 1
	for f in "$S"/slurmd-n?.pid "$S"/slurmctld.pid "$S"/slurmdbd.pid \
	    "$S"/db.pid "$S"/munge/pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	if [ -n "${S_CGROUP:-}" ]; then
		umount /sys/fs/cgroup/systemd 2>/dev/null
		umount /sys/fs/cgroup
		S_CGROUP=
	fi
	return 0
}
