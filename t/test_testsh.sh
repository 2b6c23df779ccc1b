#!/bin/sh
# scripts/test.sh itself, run in a throwaway tree whose build script and
# Makefile are stand-ins that write Automake-style .trs results: every pass
# runs whatever the one before it did, the last line is always the
# "N passed, N failed, N skipped" summary, the logs of failing tests are
# shown, and the exit status says whether anything failed.  TAP on stdout.
set -u
: "${AFU9_SRCDIR:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/afu9-testsh.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

mkdir -p "$tmp/scripts"
cp "$AFU9_SRCDIR/scripts/test.sh" "$tmp/scripts/test.sh"

# The stand-in build: FAKE_BUILD_FAIL names the pass whose build fails
# ("plain" or "asan"); otherwise it writes a Makefile into $BUILDDIR.
cat >"$tmp/scripts/build.sh" <<'EOF'
#!/bin/sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
case $BUILDDIR in *-asan) pass=asan ;; *) pass=plain ;; esac
[ "${FAKE_BUILD_FAIL:-}" != "$pass" ] || { echo "cc: error: broken.c" >&2; exit 1; }
mkdir -p "$BUILDDIR/t"
sed "s/@PASS@/$pass/" "$top/Makefile.fake" >"$BUILDDIR/Makefile"
EOF

# The stand-in `make check`: two passing cases and a skipped one in t/a,
# and in t/b one case that fails when FAKE_FAIL names this pass.
# FAKE_MAKE_FAIL makes `make check` fail without any failing case.
cat >"$tmp/Makefile.fake" <<'EOF'
check:
	printf ':test-result: PASS\n:test-result: PASS\n:test-result: SKIP\n' >t/a.trs
	echo 'ok 1 a' >t/a.log
	if [ "$${FAKE_FAIL:-}" = @PASS@ ]; then \
		printf ':test-result: FAIL\n' >t/b.trs; \
		echo 'not ok 1 - b: the @PASS@ needle' >t/b.log; exit 1; \
	fi
	[ "$${FAKE_MAKE_FAIL:-}" != @PASS@ ]
check-valgrind: check
EOF

n=0
ok() {	# ok DESCRIPTION CONDITION-EXIT-STATUS
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi
}
# scenario NAME ENV...: run test.sh in the tree with ENV; output in $out,
# exit status in $rc.
scenario() {
	rm -rf "$tmp/_build" "$tmp/_build-asan"
	out=$(cd "$tmp" && env AFU9_TEST_NO_DEPS=1 "$@" sh scripts/test.sh 2>&1)
	rc=$?
	last=$(printf '%s\n' "$out" | tail -n 1)
}
has() { printf '%s\n' "$out" | grep -qF -- "$1"; }

echo "1..17"

scenario
ok "all green: exit 0" "$rc"
[ "$last" = "4 passed, 0 failed, 2 skipped" ]; ok "all green: summary last ($last)" $?
has "== AddressSanitizer + UBSan: 2 passed, 0 failed, 1 skipped"; ok "all green: per-pass line" $?

scenario FAKE_FAIL=plain
[ "$rc" -ne 0 ]; ok "failing test: non-zero exit" $?
[ "$last" = "4 passed, 1 failed, 2 skipped" ]; ok "failing test: summary last ($last)" $?
has "== AddressSanitizer + UBSan: 2 passed, 0 failed, 1 skipped"; ok "failing test: the next pass still ran" $?
has "not ok 1 - b: the plain needle"; ok "failing test: its log is shown" $?

scenario FAKE_FAIL=asan
[ "$rc" -ne 0 ]; ok "failing in the last pass: non-zero exit" $?
[ "$last" = "4 passed, 1 failed, 2 skipped" ]; ok "failing in the last pass: summary last" $?

scenario FAKE_BUILD_FAIL=plain
[ "$rc" -ne 0 ]; ok "broken build: non-zero exit" $?
[ "$last" = "2 passed, 1 failed, 1 skipped" ]; ok "broken build: counted, summary last ($last)" $?
has "== plain build: build failed"; ok "broken build: said" $?

scenario FAKE_MAKE_FAIL=plain
[ "$rc" -ne 0 ]; ok "make fails with no failing case: non-zero exit" $?
[ "$last" = "4 passed, 1 failed, 2 skipped" ]; ok "make fails with no failing case: one failure ($last)" $?

scenario AFU9_TEST_VALGRIND=1 FAKE_FAIL=plain
[ "$rc" -ne 0 ]; ok "valgrind pass: non-zero exit" $?
has "== valgrind memcheck"; ok "valgrind pass: runs after the others" $?
[ "$last" = "6 passed, 2 failed, 3 skipped" ]; ok "valgrind pass: counted ($last)" $?
