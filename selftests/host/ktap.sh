# SPDX-License-Identifier: GPL-2.0
# selftests/host/ktap.sh: sourced by the host checks.  Sets top (the
# repository), prints the KTAP header; ok RC DESCRIPTION prints one result;
# summary NAME prints the count and returns non-zero on any failure.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
n=0 failed=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; failed=$((failed + 1)); fi
}

summary() {
	echo "# $1: $((n - failed)) passed, $failed failed"
	[ $failed = 0 ]
}

echo "TAP version 13"
