#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/host/deb_test.sh: the Debian packages build from a clean copy
# of the tree (the files git tracks or would track, as a fresh clone has
# them) with `dpkg-buildpackage -us -uc -b`, in a temporary directory;
# each package holds what it should; lintian reports no error.  Run by
# make check (make check-host).  Needs debhelper, dh-dkms, dpkg-dev,
# fakeroot and lintian (scripts/deps).
. "$(dirname "$0")/ktap.sh"
for c in dpkg-buildpackage dh dh_dkms lintian fakeroot; do
	if ! command -v $c >/dev/null; then
		echo "1..0 # SKIP $c is not installed (scripts/deps)"
		exit 4
	fi
done
echo "1..7"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
(cd "$top" && git ls-files -z -c -o --exclude-standard | xargs -0 cp --parents -t "$tmp/src" 2>/dev/null)
rc=0
(cd "$tmp/src" && dpkg-buildpackage -us -uc -b) >"$tmp/log" 2>&1 || rc=1
[ $rc = 0 ] || tail -n 40 "$tmp/log" | sed 's/^/# /'
ok $rc "dpkg-buildpackage -us -uc -b from a clean tree"

has() { # has PACKAGE PATTERN...: every pattern matches a path in the .deb
	local deb p
	deb=$(ls "$tmp"/"$1"_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || { echo "# no $1 package"; return 1; }
	dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/list"
	shift
	for p in "$@"; do
		grep -qE "$p" "$tmp/list" || { echo "# $(basename "$deb"): nothing matches $p"; return 1; }
	done
}
has stm-dkms '^\./usr/src/stm-[0-9.]+/dkms\.conf$' '/usr/src/stm-[0-9.]+/kmod/main\.c$' \
	'/usr/src/stm-[0-9.]+/uapi/linux/stmdev\.h$' '/udev/rules\.d/60-stm\.rules$'
ok $? "stm-dkms: DKMS sources and the udev rule"
has libstmdev1 '/usr/lib/x86_64-linux-gnu/libstmdev\.so\.1'
ok $? "libstmdev1: libstmdev.so.1"
has libstmdev-dev '/usr/include/stmdev\.h$' 'libstmdev\.a$' '/pkgconfig/stmdev\.pc$' 'man3/libstmdev\.3'
ok $? "libstmdev-dev: header, .a, stmdev.pc, man pages"
has stm-tools '/usr/bin/stmctl$' '/usr/bin/stm-bank$' 'man1/stmctl\.1'
ok $? "stm-tools: stmctl, stm-bank, man pages"

deb=$(ls "$tmp"/stm-dkms_*.deb 2>/dev/null | head -n 1)
rc=1
if [ -n "$deb" ]; then
	dpkg-deb -e "$deb" "$tmp/ctrl" && grep -q 'addgroup --system' "$tmp/ctrl/postinst" &&
		grep -q 'dkms' "$tmp/ctrl/postinst" && rc=0
fi
ok $rc "stm-dkms postinst creates group stm and runs dkms"

rc=0
lintian --fail-on error "$tmp"/*.changes >"$tmp/lintian" 2>&1 || rc=1
sed 's/^/# /' "$tmp/lintian"
ok $rc "lintian: no errors"

summary deb
