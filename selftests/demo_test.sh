#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# demo_test.sh - `make demo`'s bank, in a short mode, with its invariants
# asserted: it exits 0, the total after equals the total before, no audit
# saw an inconsistent total, transfers happened, and (4 workers on 2
# accounts: every transfer touches both) some commits conflicted and were
# redone.  A second run uses blocking commits on 8 accounts.
#
# Prints KTAP; exit 0 all passed, 1 a test failed, 4 skipped (no /dev/stm).

here=$(cd "$(dirname "$0")" 2>/dev/null && pwd)
for d in "$here/../tools" /bin /usr/local/bin; do
	[ -x "$d/stm-bank" ] && [ -z "$STM_BANK" ] && STM_BANK=$d/stm-bank
done
STM_BANK=${STM_BANK:-stm-bank}

echo "TAP version 13"
if [ ! -e /dev/stm ]; then
	echo "1..0 # SKIP /dev/stm not present"
	exit 4
fi

TMP=${TMPDIR:-/tmp}/demo_test.$$
mkdir -p "$TMP" || exit 1
trap 'rm -rf "$TMP"' EXIT

num=0
pass=0
fail=0
check() {	# check NAME CONDITION-STATUS [diagnostic]
	num=$((num + 1))
	if [ "$2" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $num $1"
	else
		fail=$((fail + 1))
		[ -n "$3" ] && echo "# $3"
		echo "not ok $num $1"
	fi
}

# field NAME: the value of NAME= on the bank's "result:" line.
field() {
	sed -n 's/^result:.* '"$1"'=\([-0-9]*\) .*/\1/p' "$TMP/out" | tail -n 1
}

# run TAG ARGS...: one bank run, then its invariants as tests.
run() {
	tag=$1
	shift
	# the environment must not override the command line
	WORKERS= ACCOUNTS= SECONDS= "$STM_BANK" "$@" >"$TMP/out" 2>&1
	rc=$?
	sed 's/^/# /' "$TMP/out"
	check "$tag: exits 0" "$rc" "stm-bank $* exited $rc"
	grep -q '^result: .* OK$' "$TMP/out"
	check "$tag: reports OK" $? "no 'result: ... OK' line"
	before=$(field total_before)
	after=$(field total_after)
	[ -n "$before" ] && [ "$before" = "$after" ] && [ "$before" -gt 0 ]
	check "$tag: total before = total after" $? "before '$before', after '$after'"
	inc=$(field inconsistent)
	[ "$inc" = 0 ]
	check "$tag: no inconsistent audit" $? "inconsistent audits: '$inc'"
	audits=$(field audits)
	[ -n "$audits" ] && [ "$audits" -gt 0 ]
	check "$tag: audits ran" $? "audits: '$audits'"
	transfers=$(field transfers)
	[ -n "$transfers" ] && [ "$transfers" -gt 0 ]
	check "$tag: transfers > 0" $? "transfers: '$transfers'"
	failed=$(field failed)
	[ "$failed" = 0 ]
	check "$tag: no process failed" $? "failed processes: '$failed'"
}

echo "1..15"
run "2 accounts" --workers 4 --accounts 2 --seconds 3
conflicts=$(field conflicts)
[ -n "$conflicts" ] && [ "$conflicts" -gt 0 ]
check "2 accounts: conflicts > 0 (and were redone)" $? "conflicts: '$conflicts'"
run "8 accounts, blocking" --workers 4 --accounts 8 --seconds 2 --blocking
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" -eq 0 ]
