#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# persist_stmctl_test.sh - stmctl save and load: a store saved and loaded
# into another has the same keys, values and versions (stmctl dump); a
# corrupted byte, a truncated file and a foreign file are refused with
# nothing created; a non-empty store is refused; save replaces its file
# whole and leaves no temporary file.  Runs with busybox sh in the VM.
#
# Prints KTAP; exit 0 all passed, 1 a test failed, 4 skipped (no /dev/stm,
# or a module without EXPORT/IMPORT).

here=$(cd "$(dirname "$0")" 2>/dev/null && pwd)
for d in "$here/../tools" /bin /usr/local/bin; do
	[ -x "$d/stmctl" ] && [ -z "$STMCTL" ] && STMCTL=$d/stmctl
done
STMCTL=${STMCTL:-stmctl}

echo "TAP version 13"
if [ ! -e /dev/stm ]; then
	echo "1..0 # SKIP /dev/stm not present"
	exit 4
fi

S=ps-$$
S2=ps2-$$
S3=ps3-$$
TMP=${TMPDIR:-/tmp}/persist_stmctl_test.$$
mkdir -p "$TMP/d" || exit 1
F=$TMP/d/save.stm
FAIL=0
N=0

cleanup() {
	"$STMCTL" rm -f "$S" "$S2" "$S3" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() {
	N=$((N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $N $2"
	else
		echo "not ok $N $2"
		FAIL=1
	fi
}

# run WANT CMD...: CMD must exit WANT.
run() {
	want=$1
	shift
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "# '$*' exited $rc, expected $want"
		sed 's/^/#   /' "$TMP/err" "$TMP/out"
		return 1
	fi
	return 0
}

echo "1..7"

"$STMCTL" create "$S" >/dev/null || exit 1
"$STMCTL" set "$S" a 1 >/dev/null
"$STMCTL" set "$S" a 2 >/dev/null
"$STMCTL" set "$S" long "a value longer than sixteen bytes, on the heap" >/dev/null
"$STMCTL" add "$S" n 42 >/dev/null
"$STMCTL" set "$S" gone x >/dev/null
"$STMCTL" del "$S" gone >/dev/null
if ! run 0 "$STMCTL" save "$S" "$F"; then
	if grep -qi "not supported" "$TMP/err"; then
		echo "1..0 # SKIP no EXPORT/IMPORT (STMDEV_F_PERSIST)"
		exit 4
	fi
	ok 1 "save"
else
	ok 0 "save"
fi

# Loaded into another store: the same dump (keys, versions, values).
r=0
run 0 "$STMCTL" load "$F" "$S2" || r=1
"$STMCTL" dump "$S" 2>&1 | grep -v "^# store" >"$TMP/d1"
"$STMCTL" dump "$S2" 2>&1 | grep -v "^# store" >"$TMP/d2"
cmp -s "$TMP/d1" "$TMP/d2" || { echo "# dumps differ"; sed 's/^/#   /' "$TMP/d1" "$TMP/d2"; r=1; }
grep -q '^"a" v2 = "2"' "$TMP/d2" || { echo "# a is not v2 = 2"; r=1; }
ok $r "load into a new store: same keys, values and versions"

# Into a non-empty store: refused, nothing changed.
r=0
run 1 "$STMCTL" load "$F" "$S2" || r=1
"$STMCTL" dump "$S2" 2>&1 | grep -v "^# store" >"$TMP/d3"
cmp -s "$TMP/d2" "$TMP/d3" || r=1
ok $r "load into a non-empty store refused"

# A corrupted byte, a truncated file, a foreign file: nothing created.
r=0
cp "$F" "$TMP/bad"
printf '\377' | dd of="$TMP/bad" bs=1 seek=104 conv=notrunc 2>/dev/null
run 1 "$STMCTL" load "$TMP/bad" "$S3" || r=1
grep -q "checksum" "$TMP/err" || { echo "# no checksum error"; r=1; }
run 5 "$STMCTL" info "$S3" || r=1
ok $r "corrupted file refused, no store created"

r=0
size=$(wc -c <"$F")
head -c $((size - 1)) "$F" >"$TMP/short"
run 1 "$STMCTL" load "$TMP/short" "$S3" || r=1
head -c 50 "$F" >"$TMP/short"
run 1 "$STMCTL" load "$TMP/short" "$S3" || r=1
run 5 "$STMCTL" info "$S3" || r=1
ok $r "truncated files refused, no store created"

r=0
printf 'key=value\n' >"$TMP/foreign"
run 1 "$STMCTL" load "$TMP/foreign" "$S3" || r=1
grep -q "magic" "$TMP/err" || r=1
run 5 "$STMCTL" info "$S3" || r=1
ok $r "foreign file refused, no store created"

# Save over the file: replaced whole, no temporary left; load by the saved name.
r=0
"$STMCTL" set "$S" b 3 >/dev/null
run 0 "$STMCTL" save "$S" "$F" || r=1
[ "$(ls "$TMP/d")" = "save.stm" ] || { echo "# left: $(ls "$TMP/d")"; r=1; }
"$STMCTL" dump "$S" 2>&1 | grep -v "^# store" >"$TMP/d1"
"$STMCTL" rm "$S" >/dev/null || r=1
run 0 "$STMCTL" load "$F" || r=1
"$STMCTL" dump "$S" 2>&1 | grep -v "^# store" >"$TMP/d4"
cmp -s "$TMP/d1" "$TMP/d4" || { echo "# dump after reload differs"; r=1; }
ok $r "save replaces the file; load by the saved name"

exit $FAIL
