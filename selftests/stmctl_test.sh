#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# stmctl_test.sh - every stmctl verb (top and stats --prometheus too), its
# exit codes, and its --json output checked by a real JSON parser.  Runs
# with busybox sh in the test VM.
#
# The VM has no python or jq, so --json output goes through json-check
# (tools/json-check.c: a strict RFC 8259 validator with a path query, built
# statically and shipped to /bin beside stmctl).  Where python3 or jq exist
# (a host with /dev/stm), the output is also checked with them.
#
# Prints KTAP; exit 0 all passed, 1 a test failed, 4 skipped (no /dev/stm).

here=$(cd "$(dirname "$0")" 2>/dev/null && pwd)
for d in "$here/../tools" /bin /usr/local/bin; do
	[ -x "$d/stmctl" ] && [ -z "$STMCTL" ] && STMCTL=$d/stmctl
	[ -x "$d/json-check" ] && [ -z "$JSON_CHECK" ] && JSON_CHECK=$d/json-check
done
STMCTL=${STMCTL:-stmctl}
JSON_CHECK=${JSON_CHECK:-json-check}

echo "TAP version 13"
if [ ! -e /dev/stm ]; then
	echo "1..0 # SKIP /dev/stm not present"
	exit 4
fi

S=sh-$$
S2=sh2-$$
T=top-$$
T2=top2-$$
TRACEFS=/sys/kernel/tracing
SKIPPED=
TMP=${TMPDIR:-/tmp}/stmctl_test.$$
mkdir -p "$TMP" || exit 1
ERR=$TMP/err
OUT=
RC=0

cleanup() {
	"$STMCTL" rm -f "$S" "$S2" "$T" "$T2" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

# expect RC CMD...: run CMD, keep its stdout in $OUT; fail unless it exits RC.
expect() {
	want=$1
	shift
	OUT=$("$@" 2>"$ERR")
	RC=$?
	if [ "$RC" != "$want" ]; then
		echo "# '$*' exited $RC, expected $want"
		sed 's/^/#   stderr: /' "$ERR"
		printf "%s\n" "$OUT" | sed 's/^/#   stdout: /'
		return 1
	fi
	return 0
}

# same A B WHAT: fail unless A = B.
same() {
	if [ "$1" != "$2" ]; then
		echo "# $3: got '$1', expected '$2'"
		return 1
	fi
	return 0
}

# json TEXT: TEXT must be valid JSON (json-check; python3 and jq too when here).
json() {
	printf '%s' "$1" >"$TMP/json"
	if ! "$JSON_CHECK" "$TMP/json"; then
		echo "# invalid JSON: $1"
		return 1
	fi
	if command -v python3 >/dev/null 2>&1 &&
	   ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/json"; then
		echo "# python3 rejects: $1"
		return 1
	fi
	if command -v jq >/dev/null 2>&1 && ! jq . "$TMP/json" >/dev/null; then
		echo "# jq rejects: $1"
		return 1
	fi
	return 0
}

# jget TEXT PATH: print the value at PATH of JSON TEXT.
jget() {
	printf '%s' "$1" >"$TMP/json"
	"$JSON_CHECK" --get "$2" "$TMP/json"
}

jlen() {
	printf '%s' "$1" >"$TMP/json"
	"$JSON_CHECK" --length "$2" "$TMP/json"
}

t_tools_present() {
	command -v "$STMCTL" >/dev/null 2>&1 || [ -x "$STMCTL" ] || {
		echo "# stmctl not found"; return 1; }
	command -v "$JSON_CHECK" >/dev/null 2>&1 || [ -x "$JSON_CHECK" ] || {
		echo "# json-check not found"; return 1; }
	# the parser is not a rubber stamp
	for bad in '{"a":1,}' '[1 2]' '{"a":1,"a":2}' '"\x"' '01' '{"a"}' ''; do
		printf '%s' "$bad" >"$TMP/bad"
		if "$JSON_CHECK" "$TMP/bad" 2>/dev/null; then
			echo "# json-check accepted: $bad"
			return 1
		fi
	done
	printf '{"k":[1,{"s":"a\\"b\\u00e9"}]}' >"$TMP/good"
	"$JSON_CHECK" "$TMP/good" || return 1
	same "$("$JSON_CHECK" --get '.k[1].s' "$TMP/good")" 'a"bé' "json-check --get"
}

t_help_and_usage() {
	expect 0 "$STMCTL" --help || return 1
	case $OUT in *"exit codes"*"3  conflict"*"4  busy"*"5  not found"*) ;;
	*) echo "# --help does not document the exit codes"; return 1 ;; esac
	for v in ls create rm info get set del add keys dump stats; do
		expect 0 "$STMCTL" "$v" --help || return 1
		case $OUT in "usage: stmctl"*" $v "*) ;;
		*) echo "# $v --help: $OUT"; return 1 ;; esac
		expect 0 "$STMCTL" help "$v" || return 1
	done
	expect 2 "$STMCTL" || return 1
	expect 2 "$STMCTL" frobnicate || return 1
	expect 2 "$STMCTL" get "$S" || return 1
	expect 2 "$STMCTL" get "$S" k extra || return 1
	expect 2 "$STMCTL" set "$S" k v --no-such-option || return 1
	expect 2 "$STMCTL" set "$S" k notanumber --i64 || return 1
	expect 2 "$STMCTL" set "$S" k v --if-version x || return 1
	expect 2 "$STMCTL" add "$S" k 1.5 || return 1
	expect 2 "$STMCTL" get "$S" "" || return 1
	expect 2 "$STMCTL" get -x "$S" 0g || return 1
	expect 2 "$STMCTL" create "$S" --mode 999
}

t_create() {
	expect 0 "$STMCTL" create "$S" --mode 0640 || return 1
	expect 1 "$STMCTL" create "$S" || return 1		# exists
	expect 1 "$STMCTL" create "bad/name" || return 1
	expect 0 "$STMCTL" create "$S2" -m 600
}

t_ls() {
	expect 0 "$STMCTL" ls || return 1
	printf "%s\n" "$OUT" | grep -q "^$S " || { echo "# $S not in ls"; return 1; }
	printf "%s\n" "$OUT" | grep "^$S " | grep -q " 00640 " || { echo "# mode: $OUT"; return 1; }
	expect 0 "$STMCTL" ls --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" '[0].name' >/dev/null; echo $?)" 0 "ls --json is an array of stores" || return 1
	case $OUT in *"\"name\":\"$S\""*) ;; *) echo "# $S not in ls --json"; return 1 ;; esac
}

t_info() {
	expect 0 "$STMCTL" info "$S" || return 1
	printf "%s\n" "$OUT" | grep -q "^mode: *0640$" || { echo "# $OUT"; return 1; }
	printf "%s\n" "$OUT" | grep -q "^keys: *0$" || { echo "# $OUT"; return 1; }
	expect 0 "$STMCTL" info "$S" --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .name)" "$S" "info .name" || return 1
	same "$(jget "$OUT" .mode)" "0640" "info .mode" || return 1
	same "$(jget "$OUT" .unlinked)" "false" "info .unlinked" || return 1
	expect 5 "$STMCTL" info "nosuch-$$" || return 1
	expect 5 "$STMCTL" info --json "nosuch-$$"
}

t_set_get() {
	expect 0 "$STMCTL" set "$S" greeting "Hello World" || return 1
	v1=$OUT
	[ "$v1" -gt 0 ] 2>/dev/null || { echo "# set printed '$v1', not a version"; return 1; }
	expect 0 "$STMCTL" get "$S" greeting || return 1
	same "$OUT" "Hello World" "get" || return 1
	expect 0 "$STMCTL" get -V "$S" greeting || return 1
	same "$OUT" "$(printf '%s\tHello World' "$v1")" "get -V" || return 1
	expect 0 "$STMCTL" get "$S" greeting --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .value)" "Hello World" ".value" || return 1
	same "$(jget "$OUT" .value_encoding)" "text" ".value_encoding" || return 1
	same "$(jget "$OUT" .version)" "$v1" ".version" || return 1
	same "$(jget "$OUT" .present)" "true" ".present" || return 1
	same "$(jget "$OUT" .len)" "11" ".len" || return 1
	expect 0 "$STMCTL" get --hex "$S" greeting || return 1
	same "$OUT" "48656c6c6f20576f726c64" "get --hex" || return 1
	expect 0 "$STMCTL" get --raw "$S" greeting || return 1
	same "$OUT" "Hello World" "get --raw" || return 1
	# a second set gives a newer version
	expect 0 "$STMCTL" set "$S" greeting "Hello again" || return 1
	[ "$OUT" -gt "$v1" ] || { echo "# version $OUT after $v1"; return 1; }
	# absent key, absent store: exit 5 (and JSON says absent)
	expect 5 "$STMCTL" get "$S" nokey || return 1
	expect 5 "$STMCTL" get "$S" nokey --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .present)" "false" "absent .present" || return 1
	expect 5 "$STMCTL" get "nosuch-$$" greeting || return 1
	expect 5 "$STMCTL" set "nosuch-$$" k v
}

t_i64_add() {
	expect 0 "$STMCTL" set "$S" n 42 --i64 || return 1
	expect 0 "$STMCTL" get "$S" n --i64 || return 1
	same "$OUT" 42 "get --i64" || return 1
	expect 0 "$STMCTL" get "$S" n || return 1
	same "$OUT" 0x2a00000000000000 "binary value printed in hex" || return 1
	expect 0 "$STMCTL" get "$S" n --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .i64)" 42 ".i64" || return 1
	same "$(jget "$OUT" .value)" 2a00000000000000 ".value (hex)" || return 1
	same "$(jget "$OUT" .value_encoding)" hex ".value_encoding" || return 1
	expect 0 "$STMCTL" add "$S" n 8 || return 1
	same "$OUT" 50 "add" || return 1
	expect 0 "$STMCTL" add "$S" n -60 || return 1
	same "$OUT" -10 "add negative" || return 1
	expect 0 "$STMCTL" add "$S" counter 5 || return 1
	same "$OUT" 5 "add to an absent key" || return 1
	expect 0 "$STMCTL" get "$S" n --i64 || return 1
	same "$OUT" -10 "get --i64 after add" || return 1
	expect 1 "$STMCTL" add "$S" greeting 1 || return 1	# not an i64
	expect 1 "$STMCTL" get "$S" greeting --i64
}

t_if_version_conflict() {
	expect 0 "$STMCTL" set "$S" cas first || return 1
	v1=$OUT
	expect 0 "$STMCTL" set "$S" cas second --if-version "$v1" || return 1
	v2=$OUT
	[ "$v2" -gt "$v1" ] || { echo "# $v2 after $v1"; return 1; }
	expect 3 "$STMCTL" set "$S" cas third --if-version "$v1" || return 1
	expect 0 "$STMCTL" get "$S" cas || return 1
	same "$OUT" second "a conflicting set changed nothing" || return 1
	expect 3 "$STMCTL" set "$S" cas x --if-version 0 || return 1	# exists
	expect 0 "$STMCTL" set "$S" newkey x --if-version 0 || return 1
	expect 3 "$STMCTL" del "$S" cas --if-version "$v1" || return 1
	expect 0 "$STMCTL" get "$S" cas || return 1
	same "$OUT" second "a conflicting del changed nothing" || return 1
	expect 0 "$STMCTL" del "$S" cas --if-version "$v2" || return 1
	expect 5 "$STMCTL" get "$S" cas
}

t_del() {
	expect 0 "$STMCTL" set "$S" doomed x || return 1
	expect 0 "$STMCTL" del "$S" doomed || return 1
	expect 5 "$STMCTL" get "$S" doomed || return 1
	expect 5 "$STMCTL" del "$S" doomed || return 1
	expect 0 "$STMCTL" del -f "$S" doomed || return 1
	expect 5 "$STMCTL" del "nosuch-$$" doomed
}

t_binary_and_escapes() {
	expect 0 "$STMCTL" set -x "$S" 00ff binary || return 1
	expect 0 "$STMCTL" get -x "$S" 00ff || return 1
	same "$OUT" binary "hex key" || return 1
	expect 0 "$STMCTL" set "$S" bin 00ff10 --hex || return 1
	expect 0 "$STMCTL" get "$S" bin || return 1
	same "$OUT" 0x00ff10 "hex value" || return 1
	# quotes, backslashes and UTF-8 are text, and must come back through JSON
	expect 0 "$STMCTL" set "$S" 'q"uo\te' 'va"l\ué' || return 1
	expect 0 "$STMCTL" get "$S" 'q"uo\te' --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .key)" 'q"uo\te' "escaped key" || return 1
	same "$(jget "$OUT" .value)" 'va"l\ué' "escaped value" || return 1
	# control characters are not text: hex
	expect 0 "$STMCTL" set "$S" ctl "$(printf 'a\tb')" || return 1
	expect 0 "$STMCTL" get "$S" ctl --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .value)" 610962 "control characters in hex"
}

t_keys() {
	expect 0 "$STMCTL" keys "$S" || return 1
	n=$(printf "%s\n" "$OUT" | wc -l)
	printf "%s\n" "$OUT" | grep -qx greeting || { echo "# greeting not in keys"; return 1; }
	printf "%s\n" "$OUT" | grep -qx 0x00ff || { echo "# 0x00ff not in keys"; return 1; }
	same "$(printf "%s\n" "$OUT" | sort)" "$OUT" "keys sorted" || return 1
	expect 0 "$STMCTL" keys -l "$S" || return 1
	printf "%s\n" "$OUT" | grep -qE '^[0-9]+ 11 greeting$' || { echo "# keys -l: $OUT"; return 1; }
	expect 0 "$STMCTL" keys "$S" --json || return 1
	json "$OUT" || return 1
	same "$(jlen "$OUT" .)" "$n" "keys --json length" || return 1
	expect 0 "$STMCTL" info "$S" --json || return 1
	same "$(jget "$OUT" .keys)" "$n" "info .keys"
}

t_dump() {
	expect 0 "$STMCTL" dump "$S" || return 1
	printf "%s\n" "$OUT" | grep -q '^"greeting" v[0-9]* = "Hello again"$' || { echo "# $OUT"; return 1; }
	printf "%s\n" "$OUT" | grep -q '^"n" v[0-9]* = 0xf6ffffffffffffff (i64 -10)$' || { echo "# $OUT"; return 1; }
	expect 0 "$STMCTL" dump "$S" --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .store)" "$S" "dump .store" || return 1
	expect 0 "$STMCTL" keys "$S" || return 1
	n=$(printf "%s\n" "$OUT" | wc -l)
	expect 0 "$STMCTL" dump "$S" --json || return 1
	same "$(jlen "$OUT" .keys)" "$n" "dump .keys length" || return 1
	i=0
	while [ $i -lt "$n" ]; do
		k=$(jget "$OUT" ".keys[$i].key")
		if [ "$k" = greeting ]; then
			same "$(jget "$OUT" ".keys[$i].value")" "Hello again" "dump greeting" || return 1
		fi
		i=$((i + 1))
	done
	expect 0 "$STMCTL" dump "$S2" --json || return 1
	json "$OUT" || return 1
	same "$(jlen "$OUT" .keys)" 0 "empty store" || return 1
	expect 5 "$STMCTL" dump "nosuch-$$"
}

t_stats() {
	expect 0 "$STMCTL" stats "$S" || return 1
	printf "%s\n" "$OUT" | grep -qE '^commits: +[1-9][0-9]*$' || { echo "# $OUT"; return 1; }
	printf "%s\n" "$OUT" | grep -qE '^conflicts: +[1-9][0-9]*$' || { echo "# $OUT"; return 1; }
	expect 0 "$STMCTL" stats "$S" --json || return 1
	json "$OUT" || return 1
	c=$(jget "$OUT" .commits)
	[ "$c" -gt 0 ] || { echo "# commits $c"; return 1; }
	expect 0 "$STMCTL" set "$S" one-more x || return 1
	expect 0 "$STMCTL" stats "$S" --json || return 1
	same "$(jget "$OUT" .commits)" "$((c + 1))" "commits after one set" || return 1
	expect 5 "$STMCTL" stats "nosuch-$$"
}

t_nonblock_flag() {
	# --nonblock attaches non-blocking; without contention it just works
	expect 0 "$STMCTL" --nonblock set "$S" nb x || return 1
	expect 0 "$STMCTL" -n add "$S" nbc 1 || return 1
	expect 2 "$STMCTL" --no-such-global ls
}

t_rm() {
	expect 0 "$STMCTL" rm "$S" "$S2" || return 1
	expect 5 "$STMCTL" rm "$S" || return 1
	expect 0 "$STMCTL" rm -f "$S" || return 1
	expect 5 "$STMCTL" info "$S" || return 1
	expect 0 "$STMCTL" ls --json || return 1
	json "$OUT" || return 1
	case $OUT in *"\"name\":\"$S\""*) echo "# $S still listed"; return 1 ;; esac
	return 0
}

# fget FILE PATH: the value at PATH of the JSON in FILE.
fget() {
	"$JSON_CHECK" --get "$2" "$1"
}

# stmctl top and stats --prometheus use stores of their own, T and T2.
t_top_setup() {
	expect 0 "$STMCTL" create "$T" || return 1
	expect 0 "$STMCTL" create "$T2" || return 1
	expect 0 "$STMCTL" set "$T" a 1 || return 1
	expect 0 "$STMCTL" set "$T" b 22 || return 1
	expect 0 "$STMCTL" set "$T2" c 333
}

# Every metric one group: HELP, TYPE, then its samples, each well formed.
t_prometheus_format() {
	expect 0 "$STMCTL" stats --prometheus || return 1
	printf '%s\n' "$OUT" >"$TMP/prom"
	awk '
	/^# HELP / { if (seen[$3]++) { print "# " $3 " twice"; bad = 1 } cur = $3; next }
	/^# TYPE / { if ($3 != cur || ($4 != "counter" && $4 != "gauge")) {
			print "# bad TYPE: " $0; bad = 1 }
		     if ($4 == "counter" && $3 !~ /_total$/) {
			print "# counter without _total: " $3; bad = 1 }
		     next }
	/^#/ { print "# stray comment: " $0; bad = 1; next }
	{
		name = $1; sub(/\{.*/, "", name)
		if (name != cur) { print "# sample outside its group: " $0; bad = 1 }
		if ($0 !~ /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9]+$/) {
			print "# malformed: " $0; bad = 1 }
		n++
	}
	END { if (!n) { print "# no samples"; bad = 1 } exit bad }' "$TMP/prom" || return 1
	grep -q '^# TYPE stm_family_commits_total counter$' "$TMP/prom" || {
		echo "# no family metrics"; return 1; }
}

t_prometheus_values() {
	expect 0 "$STMCTL" stats "$T" --prometheus || return 1
	printf '%s\n' "$OUT" >"$TMP/prom"
	same "$(grep '^stm_stores ' "$TMP/prom")" "stm_stores 1" "stores" || return 1
	same "$(grep "^stm_commits_total{" "$TMP/prom")" \
		"stm_commits_total{store=\"$T\"} 2" "commits" || return 1
	same "$(grep "^stm_keys{" "$TMP/prom")" "stm_keys{store=\"$T\"} 2" "keys" || return 1
	# a b 1 22: 1+1 + 1+2 bytes
	same "$(grep "^stm_bytes{" "$TMP/prom")" "stm_bytes{store=\"$T\"} 5" "bytes" || return 1
	same "$(grep "^stm_conflicts_total{" "$TMP/prom")" \
		"stm_conflicts_total{store=\"$T\"} 0" "conflicts" || return 1
	# every store, S2 among them
	expect 0 "$STMCTL" stats --prometheus || return 1
	printf '%s\n' "$OUT" | grep -q "^stm_keys{store=\"$T2\"} 1\$" || {
		echo "# $T2 missing from the full export"; return 1; }
	expect 5 "$STMCTL" stats no-such-store-$$ --prometheus || return 1
	expect 2 "$STMCTL" stats "$T" --prometheus --json || return 1
	expect 2 "$STMCTL" stats || return 1
}

# An idle store over an interval: totals as set, every delta and rate 0.
t_top_once_json() {
	expect 0 "$STMCTL" top --once --json -d 0.2 "$T" || return 1
	printf '%s' "$OUT" >"$TMP/j"
	"$JSON_CHECK" "$TMP/j" || { echo "# invalid JSON: $OUT"; return 1; }
	same "$(fget "$TMP/j" '.stores' | "$JSON_CHECK" --length .)" 1 "stores" || return 1
	same "$(fget "$TMP/j" '.stores[0].name')" "$T" "name" || return 1
	same "$(fget "$TMP/j" '.stores[0].commits')" 2 "commits" || return 1
	same "$(fget "$TMP/j" '.stores[0].commits_delta')" 0 "commits_delta" || return 1
	same "$(fget "$TMP/j" '.stores[0].commits_per_s')" 0.000 "commits_per_s" || return 1
	same "$(fget "$TMP/j" '.stores[0].conflicts_per_s')" 0.000 "conflicts_per_s" || return 1
	same "$(fget "$TMP/j" '.stores[0].keys')" 2 "keys" || return 1
	same "$(fget "$TMP/j" '.stores[0].bytes')" 5 "bytes" || return 1
	same "$(fget "$TMP/j" '.stores[0].families' | "$JSON_CHECK" --length .)" 0 \
		"families" || return 1
	"$JSON_CHECK" --type .hot_keys "$TMP/j" >/dev/null || return 1
	expect 5 "$STMCTL" top --once no-such-store-$$ || return 1
	expect 2 "$STMCTL" top -d 0 || return 1
	expect 2 "$STMCTL" top -n 0 || return 1
}

# Off a terminal: a block of plain lines per report, no escape sequences.
t_top_lines() {
	expect 0 "$STMCTL" top -d 0.1 -n 2 --no-trace || return 1
	printf '%s\n' "$OUT" >"$TMP/lines"
	same "$(grep -c '^stmctl top: ' "$TMP/lines")" 2 "reports" || return 1
	if grep -q "$(printf '\033')" "$TMP/lines"; then
		echo "# escape sequences off a terminal"
		return 1
	fi
	grep -q "^$T " "$TMP/lines" || { echo "# $T not shown"; return 1; }
	grep -q "^$T2 " "$TMP/lines" || { echo "# $T2 not shown"; return 1; }
	grep -q '^hot keys: not traced' "$TMP/lines" || return 1
}

# Conflicts made while top --once runs: counted, and the key named.
t_top_hot_keys() {
	if [ "$(id -u)" != 0 ] || [ ! -d "$TRACEFS/instances" ] ||
	   [ ! -d "$TRACEFS/events/stm" ]; then
		SKIPPED="needs root and tracefs with the stm events"
		return 0
	fi
	"$STMCTL" top --once --json -d 600 "$T" >"$TMP/hot" 2>"$ERR" &
	pid=$!
	# ready once its tracefs instance has the event on (its first sample
	# comes just after: the conflicts below may or may not precede it)
	inst=$TRACEFS/instances/stmctl-top-$pid
	i=0
	while [ "$(cat "$inst/events/stm/stm_conflict/enable" 2>/dev/null)" != 1 ] &&
	      [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(cat "$inst/events/stm/stm_conflict/enable" 2>/dev/null)" = 1 ] || {
		echo "# no tracefs instance from stmctl top"; kill "$pid"; return 1; }
	for n in 1 2 3; do
		expect 3 "$STMCTL" set --if-version 99 "$T" 'k"1' x || { kill "$pid"; return 1; }
	done
	expect 3 "$STMCTL" set --if-version 99 "$T" a x || { kill "$pid"; return 1; }
	kill -INT "$pid"
	wait "$pid"
	same "$?" 0 "stmctl top exit status" || { cat "$ERR"; return 1; }
	[ ! -d "$inst" ] || { echo "# tracefs instance left behind"; return 1; }
	"$JSON_CHECK" "$TMP/hot" || { echo "# invalid JSON: $(cat "$TMP/hot")"; return 1; }
	echo "# stmctl top said: $(cat "$TMP/hot")"
	same "$(fget "$TMP/hot" '.stores[0].conflicts')" 4 "conflicts" || return 1
	d=$(fget "$TMP/hot" '.stores[0].conflicts_delta')
	[ "$d" -ge 0 ] && [ "$d" -le 4 ] || { echo "# conflicts_delta $d"; return 1; }
	same "$(fget "$TMP/hot" '.stores[0].commits_delta')" 0 "commits_delta" || return 1
	same "$(fget "$TMP/hot" '.hot_keys' | "$JSON_CHECK" --length .)" 2 "hot keys" || return 1
	same "$(fget "$TMP/hot" '.hot_keys[0].store')" "$T" "hot store" || return 1
	same "$(fget "$TMP/hot" '.hot_keys[0].key')" 'k\"1' "hot key (as traced)" || return 1
	same "$(fget "$TMP/hot" '.hot_keys[0].conflicts')" 3 "hot count" || return 1
	same "$(fget "$TMP/hot" '.hot_keys[1].key')" a "second key" || return 1
	same "$(fget "$TMP/hot" '.hot_keys[1].conflicts')" 1 "second count" || return 1
}

TESTS="t_tools_present t_help_and_usage t_create t_ls t_info t_set_get t_i64_add
t_if_version_conflict t_del t_binary_and_escapes t_keys t_dump t_stats
t_nonblock_flag t_top_setup t_prometheus_format t_prometheus_values
t_top_once_json t_top_lines t_top_hot_keys t_rm"

total=0
for t in $TESTS; do total=$((total + 1)); done
echo "1..$total"
num=0
pass=0
fail=0
skip=0
for t in $TESTS; do
	num=$((num + 1))
	name=${t#t_}
	SKIPPED=
	if $t >"$TMP/log" 2>&1; then
		if [ -n "$SKIPPED" ]; then
			skip=$((skip + 1))
			echo "ok $num $name # SKIP $SKIPPED"
		else
			pass=$((pass + 1))
			echo "ok $num $name"
		fi
	else
		fail=$((fail + 1))
		sed 's/^\([^#]\)/# \1/' "$TMP/log"
		echo "not ok $num $name"
	fi
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ "$fail" -eq 0 ]
