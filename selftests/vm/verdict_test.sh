#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/verdict_test.sh: the VM runner's verdict (verdict.awk) on
# recorded console logs, on the host, without a VM.  Runs in `make check`
# before the VMs.  Each case names a log in testdata/, the mode, and the
# exact output expected: the per-program lines, the closing verdict line
# "N passed, N failed, N skipped", and the exit status.
#
# The logs are excerpts of real runs (6.12, 2 CPUs) with the failures
# written in by hand where a real one was not at hand; all end with the
# nonce below unless the case is about a wrong one.
set -u

dir=$(cd "$(dirname "$0")" && pwd)
nonce=0123456789abcdef
n=0 failed=0

echo "TAP version 13"
echo "1..13"

# expect NAME MODE RC: compare verdict.awk on testdata/NAME.log (in MODE)
# with stdin (the whole expected output) and its exit status with RC.
expect() {
	local name=$1 mode=$2 want_rc=$3 want got rc=0
	want=$(cat)
	got=$(awk -v nonce="$nonce" -v mode="$mode" -v k=test \
		-f "$dir/verdict.awk" "$dir/testdata/$name.log") || rc=$?
	n=$((n + 1))
	if [ "$got" = "$want" ] && [ "$rc" = "$want_rc" ]; then
		echo "ok $n $name ($mode): $(tail -n 1 <<<"$got"), exit $rc"
		return
	fi
	failed=$((failed + 1))
	echo "not ok $n $name ($mode)"
	[ "$rc" = "$want_rc" ] || echo "# exit status $rc, expected $want_rc"
	diff <(echo "$want") <(echo "$got") | sed 's/^/# /'
}

# A clean pass: results counted per test case, "ok ... # SKIP" and a
# program that skips as a whole (exit 4, plan 1..0) as skips.
expect pass suite 0 <<'EOF'
# test: basic_test: 11 passed, 0 failed, 0 skipped (0.4s)
# test: fault_test: 0 passed, 0 failed, 1 skipped (0.0s)
# test: fetch_test: 4 passed, 0 failed, 0 skipped (0.1s)
# test: liveness_test: 7 passed, 0 failed, 1 skipped (1.4s)
22 passed, 0 failed, 2 skipped
EOF

# A KASAN report after a program whose own results all passed: init marks
# its END splat=1, which fails it once; the next program still counts.
expect splat suite 1 <<'EOF'
# test: fetch_test: kernel splat in dmesg
# test: fetch_test: 4 passed, 1 failed, 0 skipped (0.1s)  <-- FAILED
# test: uapi_test: 2 passed, 0 failed, 0 skipped (0.0s)
6 passed, 1 failed, 0 skipped
EOF

# A program that started and never ended (the kernel panicked): no END,
# no RMMOD, no end marker.
expect missing suite 1 <<'EOF'
# test: wait_test: did not finish (VM died or timed out)
# test: FAIL no end marker: the VM did not finish cleanly
2 passed, 2 failed, 0 skipped
EOF

# A program that exited 0 after 2 of its 11 planned results.
expect plan suite 1 <<'EOF'
# test: basic_test: 9 of 11 planned results missing
# test: basic_test: 2 passed, 9 failed, 0 skipped (0.1s)  <-- FAILED
2 passed, 9 failed, 0 skipped
EOF

# The host's hard timeout killed QEMU in the middle of a program.
expect timeout suite 1 <<'EOF'
# test: store_concurrency_test: did not finish (VM died or timed out)
# test: FAIL timed out
# test: FAIL no end marker: the VM did not finish cleanly
1 passed, 3 failed, 0 skipped
EOF

# Exit 4 is a skip, with a KTAP skip plan or with no KTAP at all.
expect skip suite 0 <<'EOF'
# test: fault_test: 0 passed, 0 failed, 1 skipped (0.0s)
# test: stmctl_test.sh: 0 passed, 0 failed, 1 skipped (0.0s)
0 passed, 0 failed, 2 skipped
EOF

# A failing test case (exit 1 with a "not ok": no extra failure), and a
# program killed by SIGSEGV after 1 of its 3 results.
expect fail suite 1 <<'EOF'
# test: store_basic_test: 3 passed, 1 failed, 0 skipped (0.2s)  <-- FAILED
# test: uring_test: 2 of 3 planned results missing
# test: uring_test: exited abnormally (status 139, signal 11)
# test: uring_test: 1 passed, 2 failed, 0 skipped (0.3s)  <-- FAILED
4 passed, 3 failed, 0 skipped
EOF

# Passing programs, then kmemleak reports in stm and a /dev/stm node left
# behind by rmmod.
expect unload suite 1 <<'EOF'
# test: fetch_test: 4 passed, 0 failed, 0 skipped (0.1s)
# test: FAIL 2 kmemleak report(s) in stm
# test: FAIL rmmod stm failed (node-left)
4 passed, 2 failed, 0 skipped
EOF

# An end marker with another boot's nonce is no end marker.
expect stale suite 1 <<'EOF'
# test: fetch_test: 4 passed, 0 failed, 0 skipped (0.1s)
# test: FAIL no end marker: the VM did not finish cleanly
4 passed, 1 failed, 0 skipped
EOF

# QEMU did not start the kernel at all.
expect noboot suite 1 <<'EOF'
# test: FAIL the VM never reached /init
# test: FAIL no end marker: the VM did not finish cleanly
0 passed, 2 failed, 0 skipped
EOF

# Command mode: the command is one case; /out's base64 lines are ignored.
expect cmd_pass cmd 0 <<'EOF'
1 passed, 0 failed, 0 skipped
EOF

expect cmd_fail cmd 1 <<'EOF'
# test: cmd: exited abnormally (status 1)
# test: command failed (status 1)
0 passed, 1 failed, 0 skipped
EOF

# The same clean pass judged against another nonce: a log from an earlier
# boot never passes.
nonce=fedcba9876543210
expect pass suite 1 <<'EOF'
# test: basic_test: 11 passed, 0 failed, 0 skipped (0.4s)
# test: fault_test: 0 passed, 0 failed, 1 skipped (0.0s)
# test: fetch_test: 4 passed, 0 failed, 0 skipped (0.1s)
# test: liveness_test: 7 passed, 0 failed, 1 skipped (1.4s)
# test: FAIL no end marker: the VM did not finish cleanly
22 passed, 1 failed, 2 skipped
EOF

echo "$((n - failed)) passed, $failed failed, 0 skipped"
[ "$failed" = 0 ]
