#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/host/dkms_test.sh: `dkms build` of stm for every installed
# kernel with a build tree (here Debian's 6.1 and 6.12), from the source
# tree `make dkms-install` lays out, with --sourcetree and --dkmstree in a
# temporary directory: nothing under /usr/src or /var/lib/dkms changes.
# As root it drops to nobody (setpriv), so dkms cannot write its MOK
# signing key into /var/lib/dkms either: the modules are built unsigned.
# Each built module must carry the kernel's vermagic.  Run by make check
# (make check-host); STM_DKMS_KERNELS="6.1.0-57-amd64 ..." picks kernels.
. "$(dirname "$0")/ktap.sh"
if ! command -v dkms >/dev/null; then
	echo "1..0 # SKIP dkms is not installed (apt install dkms)"
	exit 4
fi
kernels=${STM_DKMS_KERNELS:-$(for b in /lib/modules/*/build; do
	[ -d "$b/" ] && basename "$(dirname "$b")"; done | sort -V)}
set -- $kernels
echo "1..$(($# + 2))"

ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
libver=$(sed -n 's/^VERSION *:= *//p' "$top/lib/Makefile")
[ "$ver" = "$libver" ]
ok $? "dkms.conf PACKAGE_VERSION $ver is the library's version $libver"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
rc=0
make -s -C "$top" dkms-install DESTDIR="$tmp/src" DKMS_SRC="/stm-$ver" >"$tmp/log" 2>&1 || rc=1
[ $rc = 0 ] || sed 's/^/# /' "$tmp/log"
# Only sources: a stale object copied in would hide a broken build.
stale=$(find "$tmp/src" -name '*.o' -o -name '*.ko' -o -name '*.cmd' | head -n 3)
[ -z "$stale" ] || { echo "# stale objects: $stale"; rc=1; }
ok $rc "make dkms-install DESTDIR= lays out the source tree"

as=()
if [ "$(id -u)" = 0 ]; then
	chown -R nobody:nogroup "$tmp"
	as=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$tmp")
fi
for k in "$@"; do
	rc=0
	mkdir -p "$tmp/tree"
	[ "$(id -u)" != 0 ] || chown nobody:nogroup "$tmp/tree"
	"${as[@]}" dkms build "stm/$ver" -k "$k" --dkmstree "$tmp/tree" \
		--sourcetree "$tmp/src" >"$tmp/log" 2>&1 || rc=1
	ko=$(ls "$tmp/tree/stm/$ver/$k"/*/module/stm.ko* 2>/dev/null | head -n 1)
	if [ $rc = 0 ] && [ -n "$ko" ]; then
		case $ko in
		*.xz) xz -dc "$ko" >"$tmp/stm.ko" ;;
		*.zst) zstd -qdc "$ko" >"$tmp/stm.ko" ;;
		*.gz) gzip -dc "$ko" >"$tmp/stm.ko" ;;
		*) cp "$ko" "$tmp/stm.ko" ;;
		esac
		magic=$(/sbin/modinfo -F vermagic "$tmp/stm.ko" 2>/dev/null | awk '{print $1}')
		[ "$magic" = "$k" ] || { echo "# vermagic '$magic'"; rc=1; }
	else
		rc=1
	fi
	if [ $rc != 0 ]; then
		sed 's/^/# /' "$tmp/log"
		cat "$tmp/tree/stm/$ver/$k"/*/log/make.log 2>/dev/null | tail -n 30 | sed 's/^/# /'
	fi
	ok $rc "dkms build stm/$ver -k $k"
	rm -rf "$tmp/tree"
done

summary dkms
