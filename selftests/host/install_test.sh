#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/host/install_test.sh: `make install` into a DESTDIR (PREFIX=/usr)
# puts every file where it belongs, a tiny program builds against the
# installed files with `pkg-config --cflags --libs stmdev` (shared and
# --static) and runs, and `make uninstall` removes every file again.
# Host only, no VM, no root; run by make check (make check-host).
. "$(dirname "$0")/ktap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
d=$tmp/root
echo "1..11"

rc=0
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >"$tmp/log" 2>&1 || rc=1
[ $rc = 0 ] || sed 's/^/# /' "$tmp/log"
ok $rc "make install DESTDIR PREFIX=/usr"

kver=$(make -s --no-print-directory -C "$top" print-kver)
missing=
for f in "lib/modules/$kver/updates/stm.ko" usr/include/stmdev.h usr/include/linux/stmdev.h \
	usr/lib/libstmdev.a usr/lib/libstmdev.so usr/lib/libstmdev.so.1 usr/lib/pkgconfig/stmdev.pc \
	usr/bin/stmctl usr/bin/stm-bank usr/share/man/man1/stmctl.1 usr/share/man/man3/libstmdev.3 \
	lib/udev/rules.d/60-stm.rules lib/systemd/system/stm-persist@.service \
	lib/systemd/system/stm-persist-save@.service lib/systemd/system/stm-persist@.timer; do
	[ -e "$d/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] || echo "# missing:$missing"
ok "$([ -z "$missing" ]; echo $?)" "installed files in place (kernel $kver)"

soname=$(objdump -p "$d/usr/lib/libstmdev.so" 2>/dev/null | awk '$1 == "SONAME" {print $2}')
ok "$([ "$soname" = libstmdev.so.1 ]; echo $?)" "libstmdev.so has soname libstmdev.so.1 ($soname)"

grep -q '^libdir=/usr/lib$' "$d/usr/lib/pkgconfig/stmdev.pc"
ok $? "stmdev.pc names the installed libdir"

cat >"$tmp/hello.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <stmdev.h>
#include <linux/stmdev.h>

int main(void)
{
	const char *s = stm_strerror(-ENOENT);

	if (!s || !strlen(s))
		return 1;
	printf("%s\n", s);
	return STMDEV_UAPI_VERSION > 0 ? 0 : 1;
}
C
export PKG_CONFIG_SYSROOT_DIR=$d
export PKG_CONFIG_LIBDIR=$d/usr/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig
flags=$(pkg-config --cflags --libs stmdev)
echo "# pkg-config --cflags --libs stmdev: $flags"
rc=0
# shellcheck disable=SC2086
cc -o "$tmp/hello" "$tmp/hello.c" $flags 2>&1 | sed 's/^/# /' || rc=1
[ -x "$tmp/hello" ] || rc=1
ok $rc "a program builds with pkg-config --cflags --libs stmdev"

out=$(LD_LIBRARY_PATH=$d/usr/lib "$tmp/hello" 2>&1) && ldd_ok=$(LD_LIBRARY_PATH=$d/usr/lib ldd "$tmp/hello" | grep -c "$d/usr/lib/libstmdev.so.1")
ok "$([ -n "$out" ] && [ "${ldd_ok:-0}" = 1 ]; echo $?)" "it runs on the installed libstmdev.so.1 ($out)"

rc=0
# shellcheck disable=SC2046
cc -static -o "$tmp/hello-static" "$tmp/hello.c" $(pkg-config --static --cflags --libs stmdev) 2>&1 |
	sed 's/^/# /' || rc=1
[ -x "$tmp/hello-static" ] && "$tmp/hello-static" >/dev/null || rc=1
ok $rc "a static program builds with pkg-config --static and runs"

# A man page per exported function (the symbol map's names), as liburing.
missing=
for f in $(sed -e 's|/\*.*\*/||' "$top/lib/libstmdev.map" | grep -o '^[[:space:]]*stm_[a-z_0-9]*;' | tr -d ' \t;'); do
	[ -f "$d/usr/share/man/man3/$f.3" ] || missing="$missing $f"
done
[ -z "$missing" ] || echo "# no man page:$missing"
ok "$([ -z "$missing" ]; echo $?)" "man 3 page for every exported function ($(ls "$d/usr/share/man/man3" | wc -l) pages)"

rc=0
if command -v man >/dev/null; then
	for f in "$d"/usr/share/man/man[13]/*; do
		w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
		[ -z "$w" ] || { echo "# $(basename "$f"): $w"; rc=1; }
	done
	ok $rc "every installed man page renders without warnings"
else
	ok 0 "every installed man page renders without warnings # SKIP no man"
fi

missing=
for v in $("$d/usr/bin/stmctl" --help 2>&1 | awk '/^verbs:/ {on = 1; next} on && /^$/ {exit} on {print $1}'); do
	grep -q "^\.B $v\b\|^\.BR\? \"\?$v\b" "$d/usr/share/man/man1/stmctl.1" || missing="$missing $v"
done
[ -z "$missing" ] || echo "# verbs missing from stmctl(1):$missing"
ok "$([ -z "$missing" ]; echo $?)" "stmctl(1) lists every verb of stmctl --help"

make -s -C "$top" uninstall DESTDIR="$d" PREFIX=/usr >"$tmp/log" 2>&1 || sed 's/^/# /' "$tmp/log"
left=$(find "$d" ! -type d | sed "s|^$d/||")
[ -z "$left" ] || echo "# left behind:" $left
ok "$([ -z "$left" ]; echo $?)" "make uninstall removes every installed file"

summary install
