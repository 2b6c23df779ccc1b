#!/usr/bin/env bash
# localdb.sh: a private PostgreSQL for running afu9 without DATABASE_URL.
#
#   scripts/localdb.sh [start]   init (first run) and start; print the URL
#   scripts/localdb.sh url       print the URL of an initialised database
#   scripts/localdb.sh status    say whether it runs (exit 0 running, 3 not)
#   scripts/localdb.sh stop      stop it (fast shutdown); data is kept
#
# Everything lives in $AFU9_STATE_DIR/pg (default ~/.local/state/afu9/pg;
# /var/lib/afu9/pg for root, because the server cannot run as root and
# its user cannot reach /root): data/, server.log, and `password` (mode
# 0600, generated once).  The server listens on a unix socket in that
# directory only (listen_addresses = ''), with scram-sha-256 password
# authentication.  As root, initdb and postgres run as the "postgres" user
# (else "nobody").  Server binaries: $AFU9_PG_BINDIR, else
# /usr/lib/postgresql/<15,16,17,14,13>/bin, else /usr/local/pgsql/bin.
#
# Only the URL goes to stdout, so `export DATABASE_URL=$(scripts/localdb.sh)`
# works; progress and errors go to stderr.  Every run is idempotent: a
# second `start` reuses the database (starting the server if it stopped).
set -euo pipefail

PORT=5432		# names the socket file .s.PGSQL.5432 only
DB_USER=afu9
DB_NAME=afu9

die() {
	printf 'localdb: %s\n' "$*" >&2
	exit 1
}

say() {
	printf 'localdb: %s\n' "$*" >&2
}

usage() {
	printf 'usage: %s [start|stop|status|url]\n' "${0##*/}" >&2
	exit 2
}

find_bindir() {
	local d
	if [[ -n "${AFU9_PG_BINDIR:-}" ]]; then
		[[ -x "$AFU9_PG_BINDIR/postgres" ]] ||
		    die "AFU9_PG_BINDIR=$AFU9_PG_BINDIR has no postgres binary"
		printf '%s\n' "$AFU9_PG_BINDIR"
		return
	fi
	for d in /usr/lib/postgresql/{15,16,17,14,13}/bin /usr/local/pgsql/bin; do
		if [[ -x "$d/postgres" ]]; then
			printf '%s\n' "$d"
			return
		fi
	done
	die "PostgreSQL server binaries not found (install postgresql-15, or set AFU9_PG_BINDIR)"
}

# The user the server runs as: ourselves, or an unprivileged one as root.
pick_user() {
	if [[ $(id -u) -ne 0 ]]; then
		id -un
	elif id -u postgres >/dev/null 2>&1; then
		echo postgres
	elif id -u nobody >/dev/null 2>&1; then
		echo nobody
	else
		die "running as root and neither user \"postgres\" nor \"nobody\" exists"
	fi
}

# Run a command as the server's user.
as_user() {
	if [[ $(id -u) -ne 0 ]]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u "$RUN_USER" -- "$@"
	elif command -v setpriv >/dev/null 2>&1; then
		setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" \
		    --clear-groups -- "$@"
	else
		die "running as root but neither runuser nor setpriv is installed"
	fi
}

# Percent-encode a socket directory for the URI's host parameter.
urlencode() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~/-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s\n' "$out"
}

print_url() {
	local pw
	[[ -r "$PGDIR/password" ]] || die "no password file $PGDIR/password (run: ${0##*/} start)"
	pw=$(<"$PGDIR/password")
	[[ $pw =~ ^[0-9a-f]{32}$ ]] || die "$PGDIR/password is damaged (expected 32 hex digits)"
	printf 'postgresql://%s:%s@/%s?host=%s&port=%s\n' "$DB_USER" "$pw" \
	    "$DB_NAME" "$(urlencode "$PGDIR")" "$PORT"
}

# The state directory, and whether the server's user can reach it.
make_dirs() {
	mkdir -p "$PGDIR" || die "cannot create $PGDIR"
	chmod 700 "$PGDIR"
	if [[ $(id -u) -eq 0 ]]; then
		chown "$RUN_USER:" "$PGDIR"
		as_user test -x "$PGDIR" -a -w "$PGDIR" ||
		    die "user $RUN_USER cannot reach $PGDIR (a parent directory is closed to it); set AFU9_STATE_DIR to a directory it can reach, e.g. /var/lib/afu9"
	fi
}

# First run: password, initdb into data.new, settings, then rename.
init_cluster() {
	local pw tmp pwfile
	[[ -d "$DATA" ]] && return 0
	say "initialising a new database cluster in $DATA"
	pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	[[ $pw =~ ^[0-9a-f]{32}$ ]] || die "cannot generate a password"
	tmp="$PGDIR/data.new"
	pwfile="$PGDIR/initdb.pw"
	rm -rf "$tmp" "$pwfile"
	umask 077
	printf '%s' "$pw" >"$pwfile"
	if [[ $(id -u) -eq 0 ]]; then
		chown "$RUN_USER:" "$pwfile"
	fi
	if ! as_user "$BINDIR/initdb" -D "$tmp" -U "$DB_USER" \
	    -A scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C \
	    >"$PGDIR/initdb.log" 2>&1 9>&-; then
		rm -f "$pwfile"
		tail -n 20 "$PGDIR/initdb.log" >&2
		die "initdb failed (log: $PGDIR/initdb.log)"
	fi
	rm -f "$pwfile"
	as_user tee -a "$tmp/postgresql.conf" >/dev/null <<EOF

# afu9 localdb: unix socket in the state directory only, no TCP.
listen_addresses = ''
unix_socket_directories = '$PGDIR'
unix_socket_permissions = 0700
port = $PORT
EOF
	printf '%s\n' "$pw" >"$PGDIR/password.new"
	mv "$PGDIR/password.new" "$PGDIR/password"
	mv "$tmp" "$DATA"
}

running() {
	as_user "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

check_version() {
	local have want
	have=$(<"$DATA/PG_VERSION")
	want=$("$BINDIR/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
	[[ $have == "$want" ]] ||
	    die "$DATA was made by PostgreSQL $have but $BINDIR is $want (set AFU9_PG_BINDIR)"
}

start_server() {
	running && return 0
	say "starting PostgreSQL ($DATA)"
	if ! as_user "$BINDIR/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" \
	    -w -t 60 start >/dev/null 2>&1 9>&-; then
		# (9>&-: the server must not inherit the run's lock.)
		tail -n 20 "$PGDIR/server.log" >&2 || true
		die "the server did not start (log: $PGDIR/server.log)"
	fi
}

# The afu9 database, made once.
ensure_db() {
	local have
	export PGPASSWORD
	PGPASSWORD=$(<"$PGDIR/password")
	have=$("$BINDIR/psql" -X -q -h "$PGDIR" -p "$PORT" -U "$DB_USER" \
	    -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ||
	    die "cannot connect to the server in $PGDIR"
	if [[ $have != 1 ]]; then
		"$BINDIR/createdb" -h "$PGDIR" -p "$PORT" -U "$DB_USER" \
		    "$DB_NAME" || die "cannot create database $DB_NAME"
	fi
	unset PGPASSWORD
}

# Hold a lock for the whole run so that two runs never initdb at once.
lock() {
	command -v flock >/dev/null 2>&1 || return 0
	exec 9>"$PGDIR/.lock"
	flock -w 120 9 || die "another localdb.sh run holds $PGDIR/.lock"
}

main() {
	local cmd=${1:-start} base
	[[ $# -le 1 ]] || usage
	if [[ -n "${AFU9_STATE_DIR:-}" ]]; then
		base=$AFU9_STATE_DIR
	elif [[ $(id -u) -eq 0 ]]; then
		base=/var/lib/afu9
	else
		base=${XDG_STATE_HOME:-${HOME:?HOME is not set}/.local/state}/afu9
	fi
	[[ $base == /* ]] || base="$PWD/$base"
	PGDIR="$base/pg"
	DATA="$PGDIR/data"
	# A unix socket path is limited to 107 bytes.
	[[ ${#PGDIR} -le 80 ]] || die "state directory path too long for a unix socket: $PGDIR"
	case $cmd in
	start | stop | status | url) ;;
	*) usage ;;
	esac
	BINDIR=$(find_bindir)
	RUN_USER=$(pick_user)
	case $cmd in
	url)
		[[ -d "$DATA" ]] || die "no database in $PGDIR (run: ${0##*/} start)"
		print_url
		;;
	status)
		[[ -d "$DATA" ]] || { say "no database in $PGDIR"; exit 3; }
		if running; then say "running ($DATA)"; else say "stopped ($DATA)"; exit 3; fi
		;;
	stop)
		[[ -d "$DATA" ]] || { say "no database in $PGDIR: nothing to stop"; exit 0; }
		lock
		if running; then
			as_user "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null ||
			    die "the server did not stop (log: $PGDIR/server.log)"
			say "stopped"
		else
			say "not running"
		fi
		;;
	start)
		make_dirs
		lock
		init_cluster
		check_version
		start_server
		ensure_db
		print_url
		;;
	esac
}

main "$@"
