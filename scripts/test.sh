#!/bin/sh
# Build afu9 and run every test: the Check suites, the hostile-input table,
# the fuzz corpus replay, the SDK interop test and the MCP conformance run.
# First in a plain build, then again under AddressSanitizer+UBSan.
# AFU9_TEST_VALGRIND=1 adds a third pass under valgrind memcheck.
# Ends with one line "N passed, N failed[, N skipped]" over all test cases.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sh scripts/deps-debian.sh
sh scripts/node-deps.sh

status=0
pass=0 fail=0 skip=0
count() {	# sum the TAP results of one build dir
	for trs in $(find "$1/t" -name '*.trs'); do
		pass=$((pass + $(grep -c '^:test-result: PASS' "$trs" || true)))
		pass=$((pass + $(grep -c '^:test-result: XFAIL' "$trs" || true)))
		fail=$((fail + $(grep -c '^:test-result: FAIL' "$trs" || true)))
		fail=$((fail + $(grep -c '^:test-result: ERROR' "$trs" || true)))
		fail=$((fail + $(grep -c '^:test-result: XPASS' "$trs" || true)))
		skip=$((skip + $(grep -c '^:test-result: SKIP' "$trs" || true)))
	done
}
run() {	# run: NAME BUILDDIR MAKE-TARGET [configure args...]
	name=$1 dir=$2 target=$3
	shift 3
	echo "== $name"
	BUILDDIR=$dir sh scripts/build.sh "$@"
	find "$dir/t" -name '*.trs' -delete 2>/dev/null || true
	if ! make -s -C "$dir" -j"$(nproc)" "$target"; then
		status=1
		find "$dir/t" -name '*.log' ! -name test-suite.log | while read -r log; do
			grep -q '^not ok\|^ERROR\|^FAIL' "$log" 2>/dev/null && { echo "---- $log"; tail -n 60 "$log"; }
		done
	fi
	count "$dir"
}

run "plain build" "$top/_build" check
run "AddressSanitizer + UBSan" "$top/_build-asan" check --enable-sanitizers
if [ "${AFU9_TEST_VALGRIND:-0}" = 1 ]; then
	run "valgrind memcheck" "$top/_build" check-valgrind
fi
echo "$pass passed, $fail failed, $skip skipped"
exit $status
