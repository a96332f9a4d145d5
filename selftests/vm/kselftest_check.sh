#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/kselftest_check.sh: the selftests as a kselftest user runs
# them.  `make -C selftests install INSTALL_PATH=...` (the same programs
# the suite runs), that directory booted in the VM as /kselftest, and
# there `./run_kselftest.sh` with the module loaded, as on a real host.
# The KTAP it prints must have its plan, one "ok" line per test selected
# and no "not ok".  Run by make check (make check-kselftest).
#
#   STM_KSFT_KERNELS  kernels to boot (default 6.1)
#   STM_KSFT_TESTS    tests to run (default: basic_test stmctl_test.sh, a
#                     C program and a shell test with its tools from bin/;
#                     "all" for the whole list, which the suite runs anyway)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernels=${STM_KSFT_KERNELS:-6.1}
tests=${STM_KSFT_TESTS:-basic_test stmctl_test.sh}
inst=$top/.build/kselftest
out=$top/.build/kselftest-out

rm -rf "$inst" "$out"
make -s -C "$top/selftests" install INSTALL_PATH="$inst" >/dev/null
sel=
if [ "$tests" = all ]; then
	tests=$(sed -n 's/^stm://p' "$inst/kselftest-list.txt")
else
	for t in $tests; do sel="$sel -t $t"; done
fi
set -- $tests
want=$#

rc=0
for k in $kernels; do
	STM_VM_NOBUILD=1 STM_VM_OUT="$out" "$top/selftests/vm/run" -k "$k" -a "$inst:/kselftest" \
		-c "cd /kselftest && ./run_kselftest.sh$sel >/out/ktap.txt 2>&1; r=\$?; cat /out/ktap.txt; exit \$r" ||
		{ echo "kselftest_check: $k: the VM run failed" >&2; rc=1; }
	ktap=$out/$k/ktap.txt
	if [ ! -f "$ktap" ]; then
		echo "kselftest_check: $k: no KTAP came back" >&2; rc=1; continue
	fi
	nok=$(grep -c '^ok [0-9]* selftests: stm: ' "$ktap" || true)
	bad=$(grep -c '^not ok ' "$ktap" || true)
	if ! head -n 1 "$ktap" | grep -qx 'TAP version 13' || ! grep -qx "1..$want" "$ktap" ||
		[ "$nok" != "$want" ] || [ "$bad" != 0 ]; then
		echo "kselftest_check: $k: KTAP not as expected ($nok ok, $bad not ok, $want wanted)" >&2
		rc=1
	else
		echo "kselftest_check: $k: run_kselftest.sh: $nok/$want ok"
	fi
done
exit $rc
