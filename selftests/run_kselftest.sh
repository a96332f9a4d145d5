#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run_kselftest.sh: run stm's selftests the way kselftest's runner does,
# KTAP on stdout.  Installed beside the tests by `make -C selftests
# install`; `make -C selftests run_tests` runs it from the source tree.
# POSIX sh (busybox sh is enough).
#
#   ./run_kselftest.sh              every test of kselftest-list.txt
#   ./run_kselftest.sh -t NAME ...  only these (e.g. -t basic_test)
#   ./run_kselftest.sh -d DIR NAME...  the programs NAME in DIR (run_tests)
#   ./run_kselftest.sh -l           list the tests
#
# Each test runs with no stdin under `timeout` (STM_KSFT_TIMEOUT, else the
# timeout= of ./settings, else 900 s); its output is indented with "# ";
# exit status 4 is a skip.  The tools the shell tests use are taken from
# ./bin when it is there.  Needs /dev/stm (load stm.ko first): without it
# the whole run is one KTAP skip.  Exits 0 when nothing failed.

here=$(cd "$(dirname "$0")" && pwd)
dir=$here
only=
list=0
while [ $# -gt 0 ]; do
	case $1 in
	-d) dir=$2; shift 2 ;;
	-t) only="$only $2"; shift 2 ;;
	-l) list=1; shift ;;
	-h|--help) sed -n '3,18s/^# \{0,1\}//p' "$0"; exit 0 ;;
	--) shift; break ;;
	-*) echo "run_kselftest.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

if [ $# -gt 0 ]; then
	tests=$*
elif [ -f "$here/kselftest-list.txt" ]; then
	tests=$(sed -n 's/^stm://p' "$here/kselftest-list.txt")
else
	echo "run_kselftest.sh: no kselftest-list.txt and no test named" >&2
	exit 2
fi
if [ -n "$only" ]; then
	sel=
	for t in $only; do
		case " $(echo $tests) " in
		*" $t "*) sel="$sel $t" ;;
		*) echo "run_kselftest.sh: no test $t" >&2; exit 2 ;;
		esac
	done
	tests=$sel
fi
if [ $list = 1 ]; then
	for t in $tests; do echo "stm:$t"; done
	exit 0
fi

timeout_s=${STM_KSFT_TIMEOUT:-$(sed -n 's/^timeout=//p' "$here/settings" 2>/dev/null)}
timeout_s=${timeout_s:-900}
[ -d "$here/bin" ] && PATH="$here/bin:$PATH" && export PATH

n=0
for t in $tests; do n=$((n + 1)); done
echo "TAP version 13"
if [ ! -c /dev/stm ]; then
	echo "1..0 # SKIP /dev/stm is missing: load stm.ko (modprobe stm) first"
	exit 4
fi
echo "1..$n"

i=0 failed=0
for t in $tests; do
	i=$((i + 1))
	prog=$dir/$t
	echo "# selftests: stm: $t"
	if [ ! -e "$prog" ]; then
		echo "not ok $i selftests: stm: $t # missing"
		failed=$((failed + 1))
		continue
	fi
	case $t in
	*.sh) set -- sh "$prog" ;;
	*) set -- "$prog" ;;
	esac
	rcfile=$(mktemp)
	{ (cd "$dir" && timeout "$timeout_s" "$@" </dev/null 2>&1; echo $? >"$rcfile") |
		sed 's/^/# /'; }
	rc=$(cat "$rcfile")
	rm -f "$rcfile"
	case $rc in
	0) echo "ok $i selftests: stm: $t" ;;
	4) echo "ok $i selftests: stm: $t # SKIP" ;;
	124) echo "not ok $i selftests: stm: $t # TIMEOUT $timeout_s seconds"; failed=$((failed + 1)) ;;
	*) echo "not ok $i selftests: stm: $t # exit=$rc"; failed=$((failed + 1)) ;;
	esac
done
[ $failed = 0 ]
