#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# python_test.sh - the Python binding's tests (python/tests/, pytest) in
# the VM: stmdev.axon against Axon.STM's documented behaviour, the
# Pythonic API, threads sharing a Store, a cross-process bank with
# auditors, the dining philosophers across processes, bad input.
#
# The line below makes selftests/vm/run pack Debian's python3, pytest and
# python/stmdev into the initramfs (-P); the tests land in
# /usr/share/stm-python-tests.  On a host: python3 -m pytest python/tests
# with /dev/stm and stmdev importable.
# stm-vm: python
#
# Prints KTAP (one line per pytest test); exit 0 all passed, 1 a test
# failed, 4 skipped (no /dev/stm).

echo "TAP version 13"
if [ ! -e /dev/stm ]; then
	echo "1..0 # SKIP /dev/stm not present"
	exit 4
fi
PY=${PYTHON:-/usr/bin/python3}
TESTS=${STM_PYTHON_TESTS:-/usr/share/stm-python-tests}
here=$(cd "$(dirname "$0")" 2>/dev/null && pwd)
[ -d "$TESTS" ] || TESTS=$here/../python/tests
if ! [ -x "$PY" ] || ! [ -d "$TESTS" ]; then
	# The runner packs them whenever this program is selected: their
	# absence is a failure, not a skip.
	echo "not ok 1 python3 ($PY) or the tests ($TESTS) missing"
	echo "1..1"
	exit 1
fi
tmp=${TMPDIR:-/tmp}/python_test.$$
mkdir -p "$tmp" || exit 1
# pytest's own report goes out as comments; the KTAP lines come from
# python/tests/conftest.py.
STM_KTAP=$tmp/ktap PYTHONDONTWRITEBYTECODE=1 "$PY" -m pytest -p no:cacheprovider \
	-q -rfE --durations=10 -o console_output_style=classic "$TESTS" >"$tmp/out" 2>&1
rc=$?
sed 's/^/# /' "$tmp/out"
cat "$tmp/ktap" 2>/dev/null
rm -rf "$tmp"
# 1: tests failed (reported as "not ok"); anything else is an error of pytest.
case $rc in
0|1) exit $rc ;;
*) echo "# pytest exited $rc"; exit 2 ;;
esac
