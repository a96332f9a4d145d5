# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/verdict.awk: the verdict on one kernel's VM run, from the
# console log that selftests/vm/run recorded (.build/<kernel>/console.log).
#
#   awk -v nonce=NONCE [-v mode=suite|cmd] [-v k=KERNEL] \
#       -f selftests/vm/verdict.awk console.log
#
# Prints a "# KERNEL: ..." line per test program (suite mode) and per
# failure, then one closing line "N passed, N failed, N skipped" (test
# cases on this kernel; in command mode the command counts as one), and
# exits 1 when anything failed, else 0.  Anything that is not a clean run
# counts as a failure: no boot, insmod failure, a kernel splat, an
# abnormal exit, a missing result, no end marker, the module not
# unloaded, a kmemleak report, the host's timeout.
# selftests/vm/verdict_test.sh checks it against the logs in testdata/.
#
# ---- The VM runner's line protocol -------------------------------------
#
# selftests/vm/init (the guest's /init) talks to selftests/vm/run (the
# host) through lines on the console, ttyS0; the full kernel log goes to
# ttyS1 (.build/<kernel>/kernel.log) and is not part of the protocol.
# Lines from the guest, in the order they come:
#
#   STM-VM: READY uptime=S kernel=RELEASE cpus=N   /init has started
#   STM-VM: NOTE TEXT                   information only (e.g. boot splats)
#   STM-VM: INSMOD rc=RC                insmod /stm.ko; RC 0 is success,
#                                       otherwise /init goes straight to DONE
#   STM-VM: INSMOD-SPLAT                the kernel log had a splat after insmod
#   STM-VM: BEGIN NAME                  a test program (or "cmd") starts
#     ...                               its stdout and stderr, as they come:
#                                       KTAP ("1..N" plan, "ok N ...",
#                                       "ok N ... # SKIP ...", "not ok N ...")
#                                       and anything else, ignored
#   STM-VM: SPLAT NAME                  check_dmesg found a splat ...
#   # dmesg: LINE                       ... and these are the kernel log lines
#   STM-VM: END NAME rc=RC splat=0|1 secs=S
#                                       the program's exit status (4: skip,
#                                       137: killed by the per-program
#                                       timeout) and whether the kernel log
#                                       had a splat (init's SPLAT pattern)
#   STM-VM: KMEMLEAK leaks=N            kmemleak reports in stm (debug
#   # kmemleak: LINE                    kernel only); the reports
#   STM-VM: RMMOD rc=RC                 rmmod stm; RC 0, or its status, or
#                                       "node-left" when /dev/stm remained
#   STM-VM: RMMOD-SPLAT                 a splat while unloading
#   STM-VM: OUT-BEGIN                   base64 of a tar.gz of the guest's
#   ...                                 /out, when it is not empty (run
#   STM-VM: OUT-END                     unpacks it; it matches no pattern
#                                       here: no spaces, no dots)
#   STM-VM: DONE NONCE                  the end marker: NONCE is the one run
#                                       wrote to /etc/stm-vm/conf for this
#                                       boot, so a stale log cannot pass
#
# Lines the host appends to console.log itself:
#
#   STM-HOST: qemu rc=RC                QEMU's exit status (124/137: killed
#                                       by the hard STM_VM_TIMEOUT)
#   STM-HOST: timeout                   run's note that the timeout hit
#
# Results are counted per test case: a program's KTAP "ok"/"not ok" lines,
# plus one failure each for a splat, an abnormal exit (not 0, 4, or 1 with
# a "not ok"), and results missing from its plan; a program that prints
# no KTAP counts as one case (rc 0: passed, 4: skipped, else failed).  A
# program with BEGIN and no END did not finish (the VM died or timed out).
# Lines end in CR on some consoles; it is stripped.

function note(s) { printf "# %s: %s\n", k, s }
function flunk(s) { fail++; note("FAIL " s) }
function prog_end(rc, splat,   total, missing) {
	total = pp + pf + ps
	if (splat) { pf++; note(prog ": kernel splat in dmesg") }
	if (plan != "" && total < plan) {
		missing = plan - total
		pf += missing
		note(prog ": " missing " of " plan " planned results missing")
	}
	if (rc != 0 && rc != 4 && (rc != 1 || pf == 0)) {
		note(prog ": exited abnormally (status " rc (rc > 128 ? ", signal " rc - 128 : "") ")")
		if (pf == 0) pf++
	}
	if (rc == 4 && pp + pf + ps == 0) ps++
	if (rc == 0 && pp + pf + ps == 0) pp++
	if (mode == "cmd") {
		if (rc != 0 || splat) { fail++; note("command failed (status " rc (splat ? ", kernel splat" : "") ")") }
		else pass++
	} else {
		pass += pp; fail += pf; skip += ps
		note(sprintf("%s: %d passed, %d failed, %d skipped (%ss)%s", prog, pp, pf, ps,
			secs, pf ? "  <-- FAILED" : ""))
	}
	inprog = 0
}
BEGIN {
	if (mode == "") mode = "suite"
	if (k == "") k = "vm"
}
{ sub(/\r$/, "") }
/^STM-VM: READY/ { ready = 1 }
/^STM-VM: INSMOD rc=/ { insmod = 1; split($3, a, "="); if (a[2] != 0) flunk("insmod stm.ko failed (" a[2] ")") }
/^STM-VM: INSMOD-SPLAT/ { flunk("kernel splat while loading the module") }
/^STM-VM: BEGIN / { prog = $3; inprog = 1; pp = pf = ps = 0; plan = ""; nprog++; next }
/^STM-VM: END / {
	rc = ""; splat = 0; secs = "?"
	for (i = 4; i <= NF; i++) {
		split($i, a, "=")
		if (a[1] == "rc") rc = a[2]
		if (a[1] == "splat") splat = a[2]
		if (a[1] == "secs") secs = a[2]
	}
	if (inprog) prog_end(rc + 0, splat + 0)
	next
}
/^STM-VM: KMEMLEAK leaks=/ { split($3, a, "="); if (a[2] != 0) flunk(a[2] " kmemleak report(s) in stm") }
/^STM-VM: RMMOD rc=/ { rmmod = 1; split($3, a, "="); if (a[2] != "0") flunk("rmmod stm failed (" a[2] ")") }
/^STM-VM: RMMOD-SPLAT/ { flunk("kernel splat while unloading the module") }
/^STM-VM: DONE / { if ($3 == nonce) done = 1 }
/^STM-HOST: timeout/ { timedout = 1 }
inprog && /^1\.\.[0-9]+/ { plan = substr($0, 4) + 0 }
inprog && /^ok [0-9]/ { if ($0 ~ /# *[Ss][Kk][Ii][Pp]/) ps++; else pp++ }
inprog && /^not ok [0-9]/ { pf++ }
END {
	if (inprog) { pf++; note(prog ": did not finish (VM died or timed out)"); inprog = 0
		if (mode == "cmd") fail++; else { pass += pp; fail += pf; skip += ps } }
	if (!ready) flunk("the VM never reached /init")
	else if (!insmod) flunk("no insmod result")
	if (insmod && !rmmod && done) flunk("no rmmod result")
	if (mode == "suite" && insmod && nprog == 0 && done) flunk("no test program ran")
	if (timedout) flunk("timed out")
	if (!done) flunk("no end marker: the VM did not finish cleanly")
	printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
	exit (fail > 0 ? 1 : 0)
}
