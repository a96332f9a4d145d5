#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# stmctl_containers_test.sh - stmctl's container verbs (queue, mvar, sem,
# map, keyset, array; Documentation/containers.rst, "From the shell"):
# every operation, its exit codes and --json output, the documented key
# layout read back with get, waits across processes (a `take --wait` in the
# background, asleep in the kernel, woken by a `put` from another stmctl),
# and keys holding something else giving a clean error.  Runs with busybox
# sh in the test VM.
#
# A waiter is known to be asleep when the store's "waits" counter (stmctl
# stats: waits that slept) has grown: the kernel counts a wait just before
# it sleeps, after checking the keys, so a put after that must wake it.
# Nothing here is timed; the polls are bounded only to fail instead of
# hanging.
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

S=ctr-$$
TMP=${TMPDIR:-/tmp}/stmctl_containers_test.$$
mkdir -p "$TMP" || exit 1
ERR=$TMP/err
OUT=
RC=0
PIDS=

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	"$STMCTL" rm -f "$S" >/dev/null 2>&1
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

# stderr_has TEXT: the last command's stderr contains TEXT.
stderr_has() {
	grep -qF "$1" "$ERR" && return 0
	echo "# stderr lacks '$1':"
	sed 's/^/#   stderr: /' "$ERR"
	return 1
}

# json TEXT: TEXT must be valid JSON (json-check; python3 too when here).
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
	return 0
}

jget() {
	printf '%s' "$1" >"$TMP/json"
	"$JSON_CHECK" --get "$2" "$TMP/json"
}

jlen() {
	printf '%s' "$1" >"$TMP/json"
	"$JSON_CHECK" --length "$2" "$TMP/json"
}

# waits: the store's count of waits that slept.
waits() {
	"$STMCTL" stats "$S" --json >"$TMP/stats" 2>/dev/null || { echo -1; return; }
	"$JSON_CHECK" --get .waits "$TMP/stats"
}

# sleepers N BASE: wait until N more waits than BASE slept (bounded poll).
sleepers() {
	i=0
	while [ "$(waits)" -lt $(($2 + $1)) ]; do
		i=$((i + 1))
		if [ $i -gt 3000 ]; then
			echo "# no $1 waiter(s) asleep after $i polls (waits $(waits), base $2)"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

# alive PID: the background process has not exited.
alive() {
	kill -0 "$1" 2>/dev/null && return 0
	echo "# background stmctl $1 already exited"
	return 1
}

t_setup() {
	command -v "$STMCTL" >/dev/null 2>&1 || [ -x "$STMCTL" ] || {
		echo "# stmctl not found"; return 1; }
	expect 0 "$STMCTL" create "$S" --mode 0600
}

t_help_and_usage() {
	expect 0 "$STMCTL" --help || return 1
	case $OUT in *"6  would wait"*) ;;
	*) echo "# --help does not document exit code 6"; return 1 ;; esac
	for v in queue mvar sem map keyset array; do
		case $OUT in *"
  $v "*) ;; *) echo "# $v not in the verb list"; return 1 ;; esac
	done
	for v in queue mvar sem map keyset array; do
		expect 0 "$STMCTL" "$v" --help || return 1
		case $OUT in "usage: stmctl"*" $v NAME "*"Exit codes: "*) ;;
		*) echo "# $v --help: $OUT"; return 1 ;; esac
		expect 0 "$STMCTL" help "$v" || return 1
		expect 2 "$STMCTL" "$v" "$S" || return 1			# no operation
		expect 2 "$STMCTL" "$v" "$S" c frobnicate || return 1	# unknown one
		stderr_has "unknown operation 'frobnicate'" || return 1
		expect 2 "$STMCTL" "$v" "$S" "" size || return 1	# empty name
	done
	expect 2 "$STMCTL" queue "$S" q put || return 1		# no VALUE
	expect 2 "$STMCTL" queue "$S" q take extra || return 1
	expect 2 "$STMCTL" queue "$S" q size --wait || return 1	# size never waits
	expect 2 "$STMCTL" queue "$S" q take --timeout 0 || return 1
	expect 2 "$STMCTL" queue "$S" q take --timeout x || return 1
	expect 2 "$STMCTL" queue "$S" q init -1 || return 1
	expect 2 "$STMCTL" queue "$S" q put x --i64 || return 1
	expect 2 "$STMCTL" queue "$S" q put 0g --hex || return 1
	expect 2 "$STMCTL" queue "$S" q take --hex --raw || return 1
	expect 2 "$STMCTL" queue "$S" "$(printf '%0237d' 0)" size || return 1
	expect 2 "$STMCTL" sem "$S" s acquire 0 || return 1
	expect 2 "$STMCTL" sem "$S" s acquire 1 2 || return 1
	expect 2 "$STMCTL" sem "$S" s release 9223372036854775808 || return 1
	expect 2 "$STMCTL" map "$S" m get || return 1
	expect 2 "$STMCTL" map "$S" m get k --force || return 1
	expect 2 "$STMCTL" map "$S" m ls --i64 || return 1
	expect 2 "$STMCTL" map "$S" "$(printf '%0250d' 0)" put kkk v || return 1	# key too long
	expect 2 "$STMCTL" keyset "$S" s add || return 1
	expect 2 "$STMCTL" array "$S" a init 0 || return 1
	expect 2 "$STMCTL" array "$S" a get -1 || return 1
	# none of these touched the store
	expect 0 "$STMCTL" info "$S" --json || return 1
	same "$(jget "$OUT" .keys)" 0 "keys after usage errors"
}

t_queue() {
	expect 0 "$STMCTL" queue "$S" q init 3 || return 1
	expect 0 "$STMCTL" queue "$S" q init 3 || return 1	# the same: fine
	expect 1 "$STMCTL" queue "$S" q init 4 || return 1
	stderr_has "already has another capacity" || return 1
	expect 0 "$STMCTL" queue "$S" q size || return 1
	same "$OUT" 0 "empty queue size" || return 1
	expect 6 "$STMCTL" queue "$S" q take || return 1
	stderr_has "queue q is empty" || return 1
	expect 6 "$STMCTL" queue "$S" q peek || return 1
	for v in one two three; do
		expect 0 "$STMCTL" queue "$S" q put "$v" || return 1
		same "$OUT" "" "put prints nothing" || return 1
	done
	expect 6 "$STMCTL" queue "$S" q put four || return 1	# bounded at 3
	stderr_has "queue q is full" || return 1
	expect 6 "$STMCTL" queue "$S" q put four --timeout 100 || return 1
	stderr_has "timed out after 100 ms" || return 1
	expect 0 "$STMCTL" queue "$S" q size --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .size)" 3 "size --json" || return 1
	expect 0 "$STMCTL" queue "$S" q peek || return 1
	same "$OUT" one "peek" || return 1
	expect 0 "$STMCTL" queue "$S" q take || return 1
	same "$OUT" one "take: the oldest" || return 1
	expect 0 "$STMCTL" queue "$S" q take --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .value)" two "take --json .value" || return 1
	same "$(jget "$OUT" .value_encoding)" text "take --json encoding" || return 1
	same "$(jget "$OUT" .len)" 3 "take --json .len" || return 1
	# the documented key layout: Q/h, Q/t, Q/c, Q/i/<16 hex digits>
	expect 0 "$STMCTL" get "$S" q/h --i64 || return 1
	same "$OUT" 2 "q/h" || return 1
	expect 0 "$STMCTL" get "$S" q/t --i64 || return 1
	same "$OUT" 3 "q/t" || return 1
	expect 0 "$STMCTL" get "$S" q/c --i64 || return 1
	same "$OUT" 3 "q/c" || return 1
	expect 0 "$STMCTL" get "$S" q/i/0000000000000002 || return 1
	same "$OUT" three "item key" || return 1
	expect 5 "$STMCTL" get "$S" q/i/0000000000000000 || return 1	# taken: gone
	# a queue another program wrote by the layout is one for stmctl
	expect 0 "$STMCTL" set "$S" q/i/0000000000000003 written-by-hand || return 1
	expect 0 "$STMCTL" set "$S" q/t 4 --i64 || return 1
	expect 0 "$STMCTL" queue "$S" q take || return 1
	same "$OUT" three "take after hand-written item" || return 1
	expect 0 "$STMCTL" queue "$S" q take || return 1
	same "$OUT" written-by-hand "take the hand-written item" || return 1
	expect 6 "$STMCTL" queue "$S" q take || return 1
	# values: --i64, --hex, binary printed as hex, --raw
	expect 0 "$STMCTL" queue "$S" u put 42 --i64 || return 1
	expect 0 "$STMCTL" queue "$S" u put 00ff10 --hex || return 1
	expect 0 "$STMCTL" queue "$S" u put "hello world" || return 1
	expect 0 "$STMCTL" queue "$S" u put -- -7 || return 1
	expect 0 "$STMCTL" queue "$S" u size || return 1
	same "$OUT" 4 "unbounded queue size" || return 1
	expect 5 "$STMCTL" get "$S" u/c || return 1	# never initialised: no u/c
	expect 0 "$STMCTL" queue "$S" u peek --i64 || return 1
	same "$OUT" 42 "peek --i64" || return 1
	expect 0 "$STMCTL" queue "$S" u take --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .i64)" 42 "take --json .i64" || return 1
	same "$(jget "$OUT" .value_encoding)" hex "take --json binary encoding" || return 1
	expect 0 "$STMCTL" queue "$S" u take || return 1
	same "$OUT" 0x00ff10 "binary item printed in hex" || return 1
	# --i64 on an item that is not 8 bytes: an error, and nothing taken
	expect 1 "$STMCTL" queue "$S" u take --i64 || return 1
	stderr_has "not an 8-byte integer" || return 1
	expect 0 "$STMCTL" queue "$S" u take --hex || return 1
	same "$OUT" 68656c6c6f20776f726c64 "take --hex" || return 1
	expect 0 "$STMCTL" queue "$S" u take --raw || return 1
	same "$OUT" -7 "take --raw" || return 1
	expect 0 "$STMCTL" queue "$S" u size || return 1
	same "$OUT" 0 "drained" || return 1
	expect 5 "$STMCTL" queue "nosuch-$$" q size
}

t_queue_take_wait_cross_process() {
	base=$(waits)
	"$STMCTL" queue "$S" w take --wait >"$TMP/taken" 2>"$TMP/taken.err" &
	pid=$!
	PIDS="$PIDS $pid"
	sleepers 1 "$base" || return 1
	alive "$pid" || return 1
	same "$(cat "$TMP/taken")" "" "nothing taken yet" || return 1
	expect 0 "$STMCTL" queue "$S" w put "wake up" || return 1
	wait "$pid"
	rc=$?
	same "$rc" 0 "the waiting take's exit code" || return 1
	same "$(cat "$TMP/taken")" "wake up" "the waiting take's item" || return 1
	expect 0 "$STMCTL" queue "$S" w size || return 1
	same "$OUT" 0 "the item was taken once" || return 1
	# --timeout with --wait: woken before it
	base=$(waits)
	"$STMCTL" queue "$S" w take --timeout 3600000 >"$TMP/taken" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	sleepers 1 "$base" || return 1
	expect 0 "$STMCTL" queue "$S" w put second || return 1
	wait "$pid"
	same "$?" 0 "take --timeout woken by a put" || return 1
	same "$(cat "$TMP/taken")" second "take --timeout's item"
}

t_queue_put_wait_on_full() {
	expect 0 "$STMCTL" queue "$S" b init 1 || return 1
	expect 0 "$STMCTL" queue "$S" b put first || return 1
	base=$(waits)
	"$STMCTL" queue "$S" b put second --wait 2>"$TMP/put.err" &
	pid=$!
	PIDS="$PIDS $pid"
	sleepers 1 "$base" || return 1
	alive "$pid" || return 1
	expect 0 "$STMCTL" queue "$S" b size || return 1
	same "$OUT" 1 "the waiting put added nothing yet" || return 1
	expect 0 "$STMCTL" queue "$S" b take || return 1
	same "$OUT" first "take from the full queue" || return 1
	wait "$pid"
	same "$?" 0 "the waiting put's exit code" || return 1
	expect 0 "$STMCTL" queue "$S" b take || return 1
	same "$OUT" second "the waiting put's item"
}

t_killed_waiter_takes_nothing() {
	base=$(waits)
	"$STMCTL" queue "$S" k take --wait >"$TMP/killed" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	sleepers 1 "$base" || return 1
	kill -TERM "$pid"
	wait "$pid"
	[ $? -ne 0 ] || { echo "# the killed take exited 0"; return 1; }
	expect 0 "$STMCTL" queue "$S" k put kept || return 1
	expect 0 "$STMCTL" queue "$S" k size || return 1
	same "$OUT" 1 "the item stays for the next taker" || return 1
	same "$(cat "$TMP/killed")" "" "the killed take printed nothing"
}

t_four_waiting_consumers() {
	# four takes asleep in four processes, four puts: each item once
	base=$(waits)
	n=0
	for i in 1 2 3 4; do
		"$STMCTL" queue "$S" mc take --wait >"$TMP/c$i" 2>&1 &
		PIDS="$PIDS $!"
		eval "cpid$i=$!"
	done
	sleepers 4 "$base" || return 1
	for i in 1 2 3 4; do
		expect 0 "$STMCTL" queue "$S" mc put "item-$i" || return 1
	done
	for i in 1 2 3 4; do
		eval "wait \$cpid$i" || { echo "# consumer $i failed: $(cat "$TMP/c$i")"; return 1; }
	done
	got=$(cat "$TMP/c1" "$TMP/c2" "$TMP/c3" "$TMP/c4" | sort | tr '\n' ' ')
	same "$got" "item-1 item-2 item-3 item-4 " "each item delivered exactly once" || return 1
	expect 0 "$STMCTL" queue "$S" mc size || return 1
	same "$OUT" 0 "nothing left"
}

t_mvar() {
	expect 6 "$STMCTL" mvar "$S" mv take || return 1
	stderr_has "mvar mv is empty" || return 1
	expect 6 "$STMCTL" mvar "$S" mv read || return 1
	expect 6 "$STMCTL" mvar "$S" mv read --timeout 100 || return 1
	expect 0 "$STMCTL" mvar "$S" mv put "in the box" || return 1
	expect 6 "$STMCTL" mvar "$S" mv put again || return 1
	stderr_has "mvar mv is full" || return 1
	expect 0 "$STMCTL" get "$S" mv || return 1			# layout: the key itself
	same "$OUT" "in the box" "the MVar's key" || return 1
	expect 0 "$STMCTL" mvar "$S" mv read || return 1
	same "$OUT" "in the box" "read" || return 1
	expect 0 "$STMCTL" mvar "$S" mv read --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .value)" "in the box" "read --json" || return 1
	expect 0 "$STMCTL" mvar "$S" mv take || return 1
	same "$OUT" "in the box" "take" || return 1
	expect 5 "$STMCTL" get "$S" mv || return 1			# empty: absent
	expect 6 "$STMCTL" mvar "$S" mv take || return 1
	# hand-off across processes: a take --wait woken by a put
	base=$(waits)
	"$STMCTL" mvar "$S" mv take --wait >"$TMP/mv" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	sleepers 1 "$base" || return 1
	alive "$pid" || return 1
	expect 0 "$STMCTL" mvar "$S" mv put 7 --i64 || return 1
	wait "$pid"
	same "$?" 0 "the waiting mvar take" || return 1
	same "$(cat "$TMP/mv")" 0x0700000000000000 "handed-off value" || return 1
	expect 5 "$STMCTL" get "$S" mv
}

t_sem() {
	expect 0 "$STMCTL" sem "$S" sem value || return 1
	same "$OUT" 0 "a semaphore never released" || return 1
	expect 6 "$STMCTL" sem "$S" sem acquire || return 1
	stderr_has "sem sem has fewer units" || return 1
	expect 0 "$STMCTL" sem "$S" sem release 3 || return 1
	expect 0 "$STMCTL" sem "$S" sem value --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .value)" 3 "value --json" || return 1
	expect 0 "$STMCTL" get "$S" sem --i64 || return 1		# layout: an i64 key
	same "$OUT" 3 "the semaphore's key" || return 1
	expect 0 "$STMCTL" sem "$S" sem acquire 2 || return 1
	expect 0 "$STMCTL" sem "$S" sem value || return 1
	same "$OUT" 1 "after acquire 2" || return 1
	expect 6 "$STMCTL" sem "$S" sem acquire 2 || return 1	# never over-acquired
	expect 0 "$STMCTL" sem "$S" sem value || return 1
	same "$OUT" 1 "a failed acquire took nothing" || return 1
	expect 0 "$STMCTL" sem "$S" sem acquire || return 1
	# acquire --wait across processes, woken by a release
	base=$(waits)
	"$STMCTL" sem "$S" sem acquire 2 --wait 2>"$TMP/sem.err" &
	pid=$!
	PIDS="$PIDS $pid"
	sleepers 1 "$base" || return 1
	expect 0 "$STMCTL" sem "$S" sem release || return 1	# 1: not enough
	alive "$pid" || return 1
	sleepers 2 "$base" || return 1				# asleep again
	alive "$pid" || return 1
	expect 0 "$STMCTL" sem "$S" sem release || return 1	# 2: enough
	wait "$pid"
	same "$?" 0 "the waiting acquire" || return 1
	expect 0 "$STMCTL" sem "$S" sem value || return 1
	same "$OUT" 0 "units after the waiting acquire"
}

t_map() {
	expect 0 "$STMCTL" map "$S" m size || return 1
	same "$OUT" 0 "empty map" || return 1
	expect 0 "$STMCTL" map "$S" m put alice 10 || return 1
	expect 0 "$STMCTL" map "$S" m put bob 20 --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .added)" true "put --json of a new key" || return 1
	expect 0 "$STMCTL" map "$S" m put bob 21 --json || return 1
	same "$(jget "$OUT" .added)" false "put --json replacing" || return 1
	expect 0 "$STMCTL" map "$S" m put carol 5 --i64 || return 1
	expect 0 "$STMCTL" map "$S" m get bob || return 1
	same "$OUT" 21 "get" || return 1
	expect 0 "$STMCTL" map "$S" m get carol --i64 || return 1
	same "$OUT" 5 "get --i64" || return 1
	expect 0 "$STMCTL" map "$S" m has alice || return 1
	same "$OUT" true "has" || return 1
	expect 5 "$STMCTL" map "$S" m has dave || return 1
	same "$OUT" false "has an absent key" || return 1
	expect 0 "$STMCTL" map "$S" m size || return 1
	same "$OUT" 3 "size" || return 1
	expect 0 "$STMCTL" get "$S" 'm/#' --i64 || return 1		# layout: the count
	same "$OUT" 3 "m/#" || return 1
	expect 0 "$STMCTL" get "$S" m/k/alice || return 1		# layout: the entries
	same "$OUT" 10 "m/k/alice" || return 1
	expect 0 "$STMCTL" map "$S" m ls || return 1
	same "$OUT" "$(printf 'alice\t10\nbob\t21\ncarol\t0x0500000000000000')" "ls" || return 1
	expect 0 "$STMCTL" map "$S" m ls --json || return 1
	json "$OUT" || return 1
	same "$(jlen "$OUT" .)" 3 "ls --json length" || return 1
	same "$(jget "$OUT" '[1].key')" bob "ls --json [1].key" || return 1
	same "$(jget "$OUT" '[1].value')" 21 "ls --json [1].value" || return 1
	same "$(jget "$OUT" '[2].i64')" 5 "ls --json [2].i64" || return 1
	expect 0 "$STMCTL" map "$S" m del alice || return 1
	expect 5 "$STMCTL" map "$S" m get alice || return 1
	stderr_has "no such key alice" || return 1
	expect 5 "$STMCTL" map "$S" m del alice || return 1
	expect 0 "$STMCTL" map "$S" m del alice --force || return 1
	expect 0 "$STMCTL" map "$S" m size || return 1
	same "$OUT" 2 "size after del" || return 1
	# binary keys
	expect 0 "$STMCTL" map "$S" m put -x 00ff binary || return 1
	expect 0 "$STMCTL" map "$S" m get -x 00ff || return 1
	same "$OUT" binary "hex key" || return 1
	expect 0 "$STMCTL" map "$S" m ls || return 1
	printf '%s\n' "$OUT" | grep -qx "$(printf '0x00ff\tbinary')" || { echo "# ls: $OUT"; return 1; }
	expect 0 "$STMCTL" map "$S" m ls --hex || return 1
	printf '%s\n' "$OUT" | grep -qx "$(printf 'bob\t3231')" || { echo "# ls --hex: $OUT"; return 1; }
	expect 0 "$STMCTL" map "$S" empty ls --json || return 1
	same "$OUT" "[]" "ls of an empty map"
}

t_keyset() {
	for k in pear apple fig apple; do
		expect 0 "$STMCTL" keyset "$S" fruit add "$k" || return 1
	done
	expect 0 "$STMCTL" keyset "$S" fruit size || return 1
	same "$OUT" 3 "a set holds each key once" || return 1
	expect 0 "$STMCTL" keyset "$S" fruit ls || return 1
	same "$OUT" "$(printf 'apple\nfig\npear')" "ls, sorted" || return 1
	expect 0 "$STMCTL" keyset "$S" fruit ls --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" '[0].key')" apple "ls --json" || return 1
	expect 0 "$STMCTL" keyset "$S" fruit has fig || return 1
	expect 5 "$STMCTL" keyset "$S" fruit has kiwi || return 1
	expect 0 "$STMCTL" keyset "$S" fruit has fig --json || return 1
	same "$(jget "$OUT" .present)" true "has --json" || return 1
	expect 0 "$STMCTL" get "$S" fruit/k/fig --json || return 1	# layout: empty value
	same "$(jget "$OUT" .len)" 0 "a member's value is empty" || return 1
	expect 0 "$STMCTL" keyset "$S" fruit rm fig || return 1
	expect 5 "$STMCTL" keyset "$S" fruit rm fig || return 1
	expect 0 "$STMCTL" keyset "$S" fruit rm -f fig || return 1
	expect 0 "$STMCTL" keyset "$S" fruit size --json || return 1
	same "$(jget "$OUT" .size)" 2 "size --json"
}

t_array() {
	expect 5 "$STMCTL" array "$S" arr get 0 || return 1
	stderr_has "no such array" || return 1
	expect 5 "$STMCTL" array "$S" arr size || return 1
	expect 0 "$STMCTL" array "$S" arr init 4 || return 1
	expect 0 "$STMCTL" array "$S" arr init 4 || return 1
	expect 1 "$STMCTL" array "$S" arr init 5 || return 1
	stderr_has "already has another size" || return 1
	expect 0 "$STMCTL" array "$S" arr size || return 1
	same "$OUT" 4 "size" || return 1
	expect 0 "$STMCTL" get "$S" arr/n --i64 || return 1		# layout
	same "$OUT" 4 "arr/n" || return 1
	expect 0 "$STMCTL" array "$S" arr get 0 || return 1
	same "$OUT" "" "an element never set is empty" || return 1
	expect 0 "$STMCTL" array "$S" arr set 3 last || return 1
	expect 0 "$STMCTL" array "$S" arr get 3 || return 1
	same "$OUT" last "get" || return 1
	expect 0 "$STMCTL" get "$S" arr/0000000000000003 || return 1
	same "$OUT" last "element key" || return 1
	expect 0 "$STMCTL" array "$S" arr set 0 -5 --i64 || return 1
	expect 0 "$STMCTL" array "$S" arr get 0 --i64 || return 1
	same "$OUT" -5 "get --i64" || return 1
	expect 0 "$STMCTL" array "$S" arr get 3 --json || return 1
	json "$OUT" || return 1
	same "$(jget "$OUT" .value)" last "get --json" || return 1
	expect 1 "$STMCTL" array "$S" arr get 4 || return 1
	stderr_has "index 4 is past the end" || return 1
	expect 1 "$STMCTL" array "$S" arr set 4 x || return 1
}

t_wrong_container() {
	# an MVar's text is not a semaphore's count
	expect 0 "$STMCTL" mvar "$S" box put hello || return 1
	expect 1 "$STMCTL" sem "$S" box value || return 1
	stderr_has "sem box: not a semaphore" || return 1
	expect 1 "$STMCTL" sem "$S" box acquire || return 1
	stderr_has "not a semaphore" || return 1
	expect 0 "$STMCTL" mvar "$S" box read || return 1
	same "$OUT" hello "the MVar is untouched" || return 1
	# a queue index that is text; a head past the tail; an item missing
	expect 0 "$STMCTL" set "$S" bad/t hello || return 1
	expect 1 "$STMCTL" queue "$S" bad size || return 1
	stderr_has "queue bad: not a queue" || return 1
	expect 1 "$STMCTL" queue "$S" bad put x || return 1
	expect 0 "$STMCTL" get "$S" bad/t || return 1
	same "$OUT" hello "a failed put wrote nothing" || return 1
	expect 0 "$STMCTL" set "$S" bad2/h 5 --i64 || return 1
	expect 0 "$STMCTL" set "$S" bad2/t 2 --i64 || return 1
	expect 1 "$STMCTL" queue "$S" bad2 take || return 1
	stderr_has "not a queue" || return 1
	expect 0 "$STMCTL" set "$S" bad3/t 1 --i64 || return 1
	expect 1 "$STMCTL" queue "$S" bad3 take || return 1
	stderr_has "not a queue" || return 1
	# a map whose count is text; an array whose size is negative
	expect 0 "$STMCTL" set "$S" 'tm/#' text || return 1
	expect 1 "$STMCTL" map "$S" tm size || return 1
	stderr_has "map tm: not a map" || return 1
	expect 1 "$STMCTL" keyset "$S" tm ls || return 1
	stderr_has "keyset tm: not a set" || return 1
	expect 0 "$STMCTL" set "$S" ta/n -1 --i64 || return 1
	expect 1 "$STMCTL" array "$S" ta get 0 || return 1
	stderr_has "array ta: not an array" || return 1
	# an entry written by hand, the count M/# not kept: ls gives up cleanly
	expect 0 "$STMCTL" set "$S" om/k/x v || return 1
	expect 1 "$STMCTL" map "$S" om ls || return 1
	stderr_has "out of step" || return 1
	# an array's size key read as a map: no such key, cleanly
	expect 5 "$STMCTL" map "$S" arr get n || return 1
	# no kernel splat, no stray output: stdout stayed empty for all the errors
	same "$OUT" "" "stdout of a failed operation"
}

t_nonblock() {
	expect 0 "$STMCTL" --nonblock queue "$S" nb put x || return 1
	expect 0 "$STMCTL" -n queue "$S" nb take || return 1
	same "$OUT" x "--nonblock take"
}

t_teardown() {
	expect 0 "$STMCTL" rm "$S"
}

TESTS="t_setup t_help_and_usage t_queue t_queue_take_wait_cross_process
t_queue_put_wait_on_full t_killed_waiter_takes_nothing t_four_waiting_consumers
t_mvar t_sem t_map t_keyset t_array t_wrong_container t_nonblock t_teardown"

total=0
for t in $TESTS; do total=$((total + 1)); done
echo "1..$total"
num=0
pass=0
fail=0
for t in $TESTS; do
	num=$((num + 1))
	name=${t#t_}
	if $t >"$TMP/log" 2>&1; then
		pass=$((pass + 1))
		echo "ok $num $name"
	else
		fail=$((fail + 1))
		sed 's/^\([^#]\)/# \1/' "$TMP/log"
		echo "not ok $num $name"
	fi
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" -eq 0 ]
