# bench/benchlib.sh: helpers shared by bench/run.sh and bench/orchbench.sh,
# read with `.`.  The caller sets prog (the prefix of its messages) and
# tmp (where run keeps its results) and owns failed (set to 1 when a run
# fails).
# shellcheck shell=sh disable=SC2034,SC2154

# quote ARG: ARG as it would be typed to a shell.
quote() {
	case $1 in
	*[!A-Za-z0-9_./=:,+-]*)
		printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*)	printf '%s' "$1" ;;
	esac
}

# show CMD...: print the command as it would be typed.
show() {
	line=
	for a in "$@"; do
		line="$line${line:+ }$(quote "$a")"
	done
	printf '+ %s\n' "$line"
}

# run NAME CMD...: print the command, run it, keep its JSON in $tmp/NAME.
run() {
	name=$1
	shift
	show "$@"
	if ! "$@" > "$tmp/$name"; then
		echo "$prog: $name failed (see above)" >&2
		rm -f "$tmp/$name"
		failed=1
	fi
}

# get NAME KEY: a numeric value from NAME's flat JSON, or "" if absent.
get() {
	[ -f "$tmp/$1" ] || return 0
	sed -n "s/^ *\"$2\": *\\([-0-9.e+]*\\),\\{0,1\\}\$/\\1/p" "$tmp/$1"
}

# fmt VALUE [DECIMALS]: a number, or "-" when absent.
fmt() {
	if [ -z "$1" ]; then printf '%s' -; else
		awk -v v="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, v }'
	fi
}

# ratio A B: A / B to four decimals, or nothing when either is absent.
ratio() {
	[ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" \
	    'BEGIN { if (b > 0) printf "%.4f", a / b }'
}

# check LABEL VALUE OP LIMIT NOTE: one target line; VALUE may be empty.
check() {
	if [ -z "$2" ]; then
		printf '%-46s %10s   %s\n' "$1" "n/a" "$5"
		return
	fi
	awk -v l="$1" -v v="$2" -v op="$3" -v lim="$4" -v note="$5" 'BEGIN {
		ok = (op == "<=") ? v <= lim : (op == ">=") ? v >= lim : v < lim
		printf "%-46s %10.2f   %s %s %s  %s\n", l, v,
		    ok ? "met:" : "MISSED:", op, lim, note
	}'
}
