#!/bin/sh
# Build afu9 and run every test: the Check suites, the hostile-input table,
# the fuzz corpus replay, the SDK interop test and the MCP conformance run.
# First in a plain build, then again under AddressSanitizer+UBSan.
# AFU9_TEST_VALGRIND=1 adds a third pass under valgrind memcheck.
#
# Every pass runs, whatever the one before it did: a failed build or a
# failed test is reported (the logs of the failing tests are printed) and
# the next pass still runs.  The last line is always
# "N passed, N failed, N skipped" over all test cases of all passes; the
# exit status is 0 only when nothing failed (a pass whose build or
# `make check` failed without a failing test case counts as one failure).
#
# AFU9_TEST_NO_DEPS=1 skips the package installs (t/test_testsh.sh uses it).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

status=0
pass=0 fail=0 skip=0

if [ "${AFU9_TEST_NO_DEPS:-0}" != 1 ]; then
	sh scripts/deps-debian.sh || status=1
	sh scripts/node-deps.sh || status=1
fi

# n_results FILE TAG...: how many ":test-result: TAG" lines FILE has.
n_results() {
	f=$1
	shift
	n=0
	for tag in "$@"; do
		c=$(grep -c "^:test-result: $tag" "$f" 2>/dev/null) || c=0
		n=$((n + c))
	done
	echo "$n"
}

# show_failures DIR: the tail of every log whose test failed.
show_failures() {
	for trs in $(find "$1" -name '*.trs' 2>/dev/null); do
		[ "$(n_results "$trs" FAIL ERROR XPASS)" -gt 0 ] || continue
		log=${trs%.trs}.log
		echo "---- $log"
		tail -n 60 "$log" 2>/dev/null
	done
}

# run NAME BUILDDIR MAKE-TARGET [configure args...]: one pass.
run() {
	name=$1 dir=$2 target=$3
	shift 3
	echo "== $name"
	find "$dir" -name '*.trs' -delete 2>/dev/null
	if ! BUILDDIR=$dir sh scripts/build.sh "$@"; then
		echo "== $name: build failed"
		fail=$((fail + 1))
		status=1
		return
	fi
	make -s -C "$dir" -j"$(nproc)" "$target"
	rc=$?
	p=0 f=0 s=0
	for trs in $(find "$dir" -name '*.trs'); do
		p=$((p + $(n_results "$trs" PASS XFAIL)))
		f=$((f + $(n_results "$trs" FAIL ERROR XPASS)))
		s=$((s + $(n_results "$trs" SKIP)))
	done
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "== $name: make $target failed (exit $rc) with no failing test case"
		f=1
	fi
	[ "$f" -eq 0 ] || { status=1; show_failures "$dir"; }
	echo "== $name: $p passed, $f failed, $s skipped"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

run "plain build" "$top/_build" check
# The durability tests' full scale (10,000 executions, 100 kills) runs in
# the plain pass; under the sanitizers, which slow every task, a fifth of
# it checks the same properties and keeps the suite within its budget.
saved_scale=${AFU9_WFDURABLE_SCALE-}
AFU9_WFDURABLE_SCALE=${AFU9_WFDURABLE_SCALE_ASAN:-20}
export AFU9_WFDURABLE_SCALE
run "AddressSanitizer + UBSan" "$top/_build-asan" check --enable-sanitizers
if [ -n "$saved_scale" ]; then AFU9_WFDURABLE_SCALE=$saved_scale; else unset AFU9_WFDURABLE_SCALE; fi
if [ "${AFU9_TEST_VALGRIND:-0}" = 1 ]; then
	run "valgrind memcheck" "$top/_build" check-valgrind
fi
echo "$pass passed, $fail failed, $skip skipped"
exit $status
