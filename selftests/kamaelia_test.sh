#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kamaelia_test.sh - Kamaelia's own Axon.STM programs (Axon/STM.py's
# examples and __main__ blocks, Examples/STM/Philosophers.py and
# Axon.Philosophers.py) run unchanged but for the import line against
# stmdev.axon, each outcome compared with Axon's own
# (python/tests/kamaelia_run.py; Documentation/python.rst).
#
# Needs a sparkslabs/kamaelia checkout (its Code/Python/Axon): in
# $STM_KAMAELIA, else /kamaelia (make check-kamaelia STM_KAMAELIA=DIR
# packs it there).  Nothing of Kamaelia is in this repository: without a
# checkout the test skips (exit 4).
# stm-vm: python
#
# Prints KTAP; exit 0 all passed, 1 a program failed, 4 skipped.

PY=${PYTHON:-/usr/bin/python3}
TESTS=${STM_PYTHON_TESTS:-/usr/share/stm-python-tests}
here=$(cd "$(dirname "$0")" 2>/dev/null && pwd)
[ -d "$TESTS" ] || TESTS=$here/../python/tests
top=${STM_KAMAELIA:-/kamaelia}
if [ ! -f "$top/Code/Python/Axon/Axon/STM.py" ]; then
	echo "TAP version 13"
	echo "1..0 # SKIP no Kamaelia checkout (STM_KAMAELIA)"
	exit 4
fi
if [ ! -e /dev/stm ]; then
	echo "TAP version 13"
	echo "1..0 # SKIP /dev/stm not present"
	exit 4
fi
if ! [ -x "$PY" ] || ! [ -f "$TESTS/kamaelia_run.py" ]; then
	echo "TAP version 13"
	echo "not ok 1 python3 ($PY) or kamaelia_run.py ($TESTS) missing"
	echo "1..1"
	exit 1
fi
PYTHONDONTWRITEBYTECODE=1 exec "$PY" "$TESTS/kamaelia_run.py" "$top"
