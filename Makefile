# SPDX-License-Identifier: GPL-2.0
#
# stm: one entry point.
#
#   make                 module (for KDIR), library and tools: a compiler,
#                        kernel headers and liburing-dev are all it needs
#   make selftests       the test programs (needs the kselftest harness:
#                        make deps, or a kernel tree; make check does it)
#   make KDIR=/lib/modules/6.1.0-56-amd64/build [W=1] [STM_DEBUG=1]
#   make check           style, the userspace core's short runs, then every
#                        selftest in QEMU on each STM_KERNELS
#   make ustress         the core in userspace under TSan and ASan (ustress/)
#   make ufuzz           libFuzzer on the core's decoders and commit/read paths
#   make demo / bench    run a program in the VM (see selftests/vm/run)
#   make soak            1,000 kill -9 into committing processes, in the VM
#   make fuzz            the kcov-guided fuzzer on the debug kernel (FUZZ_MINUTES)
#   make style           checkpatch on kmod/ and uapi/
#   make htmldocs        Documentation/ as HTML (Sphinx, warnings are errors)
#   make install         module, headers, library, tools, man pages,
#                        udev rule, systemd units (install.mk; DESTDIR=,
#                        PREFIX=); make uninstall; make dkms-install; make deb
#   make deps            install the toolchain (scripts/deps, as root)
#
# Sub-directories are built only when their Makefile exists, so the tree
# builds while pieces are still missing.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec

TOP := $(CURDIR)

# The kernel to build the module against: the running one when its build
# tree is installed, else the newest Debian header tree (sort -V).
ifeq ($(origin KDIR),undefined)
KDIR := $(shell d=/lib/modules/$$(uname -r)/build; \
	if [ -d "$$d" ]; then echo "$$d"; \
	else ls -d /lib/modules/*-amd64/build 2>/dev/null | sort -V | tail -n 1; fi)
endif

# Module build flags passed through to Kbuild (W=1 extra warnings,
# STM_DEBUG=1 makes kmod/Kbuild add -DDEBUG).
KBUILD_ARGS := $(if $(W),W=$(W)) $(if $(STM_DEBUG),STM_DEBUG=$(STM_DEBUG))

PREFIX ?= /usr/local
DESTDIR ?=

# Which kernels `make demo` / `make bench` boot (make check: all of
# STM_KERNELS, default chosen by selftests/vm/run).
DEMO_KERNELS ?= 6.1
# make demo WORKERS=8 ACCOUNTS=4 SECONDS=30: passed to stm-bank as flags
# (the VM does not inherit the host's environment).
DEMO_FLAGS = $(if $(WORKERS),--workers $(WORKERS)) \
	$(if $(ACCOUNTS),--accounts $(ACCOUNTS)) $(if $(SECONDS),--seconds $(SECONDS))
DEMO_CMD ?= stm-bank $(strip $(DEMO_FLAGS))

VM_RUN := $(TOP)/selftests/vm/run

# Everything `make check` needs from scripts/deps; if any is missing, deps
# runs first (it is quick when all is there, and needs root when not).
DEPS_OK := test -f $(TOP)/.cache/kernel/tools/testing/selftests/kselftest_harness.h && \
	test -f $(TOP)/.cache/kernel/scripts/checkpatch.pl && \
	test -f $(TOP)/.cache/kernel/scripts/kernel-doc && \
	test -f $(TOP)/.cache/kernel/Documentation/sphinx/kerneldoc.py && \
	/usr/bin/python3 -c 'import sphinx' 2>/dev/null && \
	command -v qemu-system-x86_64 >/dev/null && test -x /bin/busybox && \
	command -v cpio >/dev/null && test -f /usr/lib/x86_64-linux-gnu/liburing.a && \
	ls /boot/vmlinuz-6.1.*-amd64 /boot/vmlinuz-6.12.*-amd64 >/dev/null 2>&1 && \
	ls -d /lib/modules/6.1.*-amd64/build/ /lib/modules/6.12.*-amd64/build/ >/dev/null 2>&1 && \
	command -v clang-14 >/dev/null && command -v llvm-symbolizer-14 >/dev/null && \
	command -v etcd >/dev/null && command -v etcdctl >/dev/null && \
	pkg-config --exists libcurl jansson && \
	ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.tsan-x86_64.a >/dev/null 2>&1 && \
	command -v dkms >/dev/null && command -v dh_dkms >/dev/null && \
	command -v lintian >/dev/null && command -v dpkg-buildpackage >/dev/null && \
	command -v pkg-config >/dev/null && \
	/usr/bin/python3 -c 'import pytest, setuptools, sysconfig, os, sys; \
		sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' 2>/dev/null
NEED_DEPS = @if ! ( $(DEPS_OK) ); then echo "make: toolchain incomplete, running scripts/deps"; \
	bash $(TOP)/scripts/deps; fi

SUBDIRS := lib tools python

.PHONY: all module userspace lib tools selftests python deps check demo bench bench-python soak \
	check-etcd bench-etcd check-kamaelia \
	fuzz ustress ufuzz style htmldocs install clean

all: module userspace

# The module for KDIR, built in place (kmod/stm.ko); any compiler or
# modpost warning fails the build.
module:
	@if [ ! -f kmod/Kbuild ]; then echo "make: no kmod/Kbuild yet, module skipped"; exit 0; fi; \
	if [ -z "$(KDIR)" ] || [ ! -d "$(KDIR)/" ]; then \
		echo "make: no kernel build tree (KDIR='$(KDIR)'): install linux-headers-$$(uname -r) or pass KDIR=" >&2; exit 1; fi
	+@if [ -f kmod/Kbuild ]; then $(TOP)/selftests/vm/kbuild $(KDIR) $(TOP)/kmod $(KBUILD_ARGS); fi

userspace: lib tools python

lib tools:
	+@if [ -f $@/Makefile ]; then $(MAKE) -C $@; else echo "make: no $@/Makefile yet, $@ skipped"; fi

# Tests link libstmdev.a when it exists: build lib first.
tools selftests: lib

# The Python binding (python/stmdev, built in place with Debian's python3);
# skipped with a message when python3-dev is missing.
python: lib
	+@if [ -f python/Makefile ]; then $(MAKE) -C python; fi
selftests:
	$(NEED_DEPS)
	+$(MAKE) -C selftests

deps:
	bash $(TOP)/scripts/deps

# checkpatch on the kernel side, exactly as a kernel submission would see it.
# kmod/compat/ is the one place allowed to test LINUX_VERSION_CODE (DESIGN
# section 4: every kernel-version difference lives there), so that check,
# and only it, is off for those files.  Generated *.mod.c are not ours.
CHECKPATCH := $(TOP)/.cache/kernel/scripts/checkpatch.pl
CHECKPATCH_FLAGS := --no-tree --show-types --quiet
STYLE_COMPAT = $(shell find kmod/compat -name '*.[ch]' 2>/dev/null | LC_ALL=C sort)
STYLE_FILES = $(filter-out $(STYLE_COMPAT), \
	$(shell find kmod -name '*.[ch]' ! -name '*.mod.c' 2>/dev/null | LC_ALL=C sort)) \
	uapi/linux/stmdev.h
style:
	@if [ ! -f $(CHECKPATCH) ]; then bash $(TOP)/scripts/deps; fi
	perl $(CHECKPATCH) $(CHECKPATCH_FLAGS) -f $(STYLE_FILES)
	$(if $(STYLE_COMPAT),perl $(CHECKPATCH) $(CHECKPATCH_FLAGS) --ignore LINUX_VERSION_CODE -f $(STYLE_COMPAT))
	@echo "style: $(words $(STYLE_FILES) $(STYLE_COMPAT)) files checkpatch-clean"

# The store's core (kmod/ sources) built in userspace: a threaded stress
# plain, under ThreadSanitizer and under ASan+UBSan (ustress/run, about
# 15 minutes here), and libFuzzer on the same core.  See
# Documentation/testing.rst, "The core in userspace".
ustress:
	$(NEED_DEPS)
	+$(MAKE) -C ustress run

ufuzz:
	$(NEED_DEPS)
	+$(MAKE) -C ustress ufuzz

# The VM runner's verdict on recorded console logs (host only, no VM),
# the host-side install/DKMS/package checks (install.mk), style, the userspace core's short slices, then every selftest on every
# kernel of STM_KERNELS, in QEMU.
check:
	$(TOP)/selftests/vm/verdict_test.sh
	$(NEED_DEPS)
	+$(MAKE) module lib tools python
	+$(MAKE) check-host
	+$(MAKE) style
	+$(MAKE) htmldocs
	+$(MAKE) -C lib check
	+$(MAKE) -C ustress quick ufuzz-quick
	+$(MAKE) check-etcd
	+$(VM_RUN)
	+$(MAKE) check-kselftest

# The etcd backend on a local 3-member cluster, on the host
# (selftests/etcd/run; Documentation/etcd.rst).
check-etcd:
	+$(MAKE) -C lib ETCD=1
	+$(MAKE) -C tools host
	+$(MAKE) -C selftests etcd
	$(TOP)/selftests/etcd/run

# `make htmldocs`: Documentation/ to HTML in HTMLDOCS_OUT with Debian's
# Sphinx, every warning an error; the headers' kernel-doc comments come in
# through the kernel's kerneldoc extension (Documentation/conf.py, api.rst).
HTMLDOCS_OUT ?= $(TOP)/.build/htmldocs
htmldocs:
	@if [ ! -f $(TOP)/.cache/kernel/scripts/kernel-doc ] || \
	    ! /usr/bin/python3 -c 'import sphinx' 2>/dev/null; then bash $(TOP)/scripts/deps; fi
	/usr/bin/python3 -m sphinx -W --keep-going -q -b html \
		-d $(TOP)/.build/doctrees $(TOP)/Documentation $(HTMLDOCS_OUT)
	@echo "htmldocs: $(HTMLDOCS_OUT)/index.html"

# `make demo`: the main job, run in the VM (DEMO_CMD, default stm-bank).
# make demo STORE=etcd: the same bank on a local 3-member etcd cluster, on
# the host (no VM).
ETCD_DEMO_FLAGS = --workers $(or $(WORKERS),4) --accounts $(or $(ACCOUNTS),8) \
	--seconds $(or $(SECONDS),10)
demo:
	$(NEED_DEPS)
ifeq ($(STORE),etcd)
	+$(MAKE) -C lib ETCD=1
	+$(MAKE) -C tools host
	$(TOP)/selftests/etcd/run -c '$(TOP)/tools/host/stm-bank $(ETCD_DEMO_FLAGS) --store "$$STM_ETCD/bank-$$$$"'
else
	+$(MAKE) all
	@if [ "$(origin DEMO_CMD)" = file ] && [ ! -x tools/stm-bank ]; then \
		echo "make demo: tools/stm-bank is not built yet (it arrives with the library)" >&2; exit 1; fi
	+STM_KERNELS="$(or $(STM_KERNELS),$(DEMO_KERNELS))" $(VM_RUN) -c '$(DEMO_CMD)'
endif

# `make bench`: bench/stm-bench in the VM, one boot per kernel of
# BENCH_KERNELS (STM_KERNELS overrides), then bench/report: the table on
# stdout and, in BENCH_OUT, bench-<kernel>.json, bench-<kernel>.png and
# bench.txt.  BENCH_ARGS go to stm-bench (e.g. --rounds 15); see
# Documentation/bench.rst for what the figures mean.  In the same boot,
# after stm-bench, bench/pybench.py (as `make bench-python`): the Python
# binding against the C library, its table after stm-bench's and
# pybench.json beside bench.json (skipped, with a note, when the stmdev
# extension could not be built; BENCH_PYTHON=0 skips it).
BENCH_KERNELS ?= 6.1
BENCH_CMD ?= stm-bench --out /out
BENCH_ARGS ?=
BENCH_OUT ?= $(TOP)/.build/bench
BENCH_PYTHON ?= 1
BENCH_PY_CMD = python3 /bin/pybench.py --c /bin/stm-pybench-c --out /out $(PYBENCH_ARGS)
BENCH_DEPS_OK := command -v gnuplot >/dev/null && command -v python3 >/dev/null && \
	test -f /usr/lib/x86_64-linux-gnu/liblmdb.a && \
	test -f /usr/lib/x86_64-linux-gnu/libsqlite3.a && test -x /usr/bin/redis-server
# The bank's Redis peer: Debian's redis-server and every shared library it
# loads, at the same paths in the guest (its binary is redis-check-rdb,
# which serves as the server when called redis-server).
BENCH_REDIS = $(shell f=/usr/bin/redis-server; [ -x $$f ] || exit 0; \
	echo "-a $$(readlink -f $$f):/usr/bin/redis-server"; \
	ldd $$f | sed -n 's|.*=> \(/[^ ]*\) .*|\1|p; s|^[[:space:]]*\(/[^ ]*\) .*|\1|p' | \
	while read -r l; do echo "-a $$(readlink -f $$l):$$l"; done)
bench:
	$(NEED_DEPS)
	@if ! ( $(BENCH_DEPS_OK) ); then bash $(TOP)/scripts/deps; fi
	+$(MAKE) -C bench
	$(if $(filter 1,$(BENCH_PYTHON)),+$(MAKE) lib python && $(MAKE) -C bench -f pybench.mk)
	@rc=0; runs=; pyruns=; py=; \
	if [ "$(BENCH_PYTHON)" = 1 ]; then \
		if ls $(TOP)/python/stmdev/_stmdev*.so >/dev/null 2>&1; then \
			py=1; \
		else echo "make bench: the stmdev extension is not built: no Python figures" >&2; fi; \
	fi; \
	for k in $(or $(STM_KERNELS),$(BENCH_KERNELS)); do \
		rm -rf "$(BENCH_OUT)/vm/$$k"; \
		if [ -n "$$py" ]; then \
			STM_VM_NOBUILD=1 STM_VM_OUT="$(BENCH_OUT)/vm" $(VM_RUN) -k "$$k" -P \
				-a $(TOP)/bench/stm-bench $(BENCH_REDIS) \
				-a $(TOP)/bench/stm-pybench-c -a $(TOP)/bench/pybench.py \
				-c '$(BENCH_CMD) $(BENCH_ARGS); r=$$?; $(BENCH_PY_CMD) || r=1; exit $$r' \
				|| rc=1; \
		else \
			STM_VM_NOBUILD=1 STM_VM_OUT="$(BENCH_OUT)/vm" $(VM_RUN) -k "$$k" \
				-a $(TOP)/bench/stm-bench $(BENCH_REDIS) \
				-c '$(BENCH_CMD) $(BENCH_ARGS)' || rc=1; \
		fi; \
		if [ -f "$(BENCH_OUT)/vm/$$k/bench.json" ]; then \
			runs="$$runs $$k=$(BENCH_OUT)/vm/$$k/bench.json"; \
		else echo "make bench: kernel $$k wrote no bench.json" >&2; rc=1; fi; \
		if [ -n "$$py" ]; then \
			if [ -f "$(BENCH_OUT)/vm/$$k/pybench.json" ]; then \
				pyruns="$$pyruns $$k=$(BENCH_OUT)/vm/$$k/pybench.json"; \
			else echo "make bench: kernel $$k wrote no pybench.json" >&2; rc=1; fi; \
		fi; \
	done; \
	if [ -n "$$runs" ]; then echo; $(TOP)/bench/report --out "$(BENCH_OUT)" $$runs || rc=1; fi; \
	if [ -n "$$pyruns" ]; then echo; python3 $(TOP)/bench/pybench.py --show $$pyruns || rc=1; fi; \
	exit $$rc

# `make bench-etcd`: on a local 3-member etcd cluster (host, no VM): bank
# transfers/s at 1 and 4 workers, 1-key stm_atomic against bare curl;
# table, JSON and chart in BENCH_OUT (Documentation/etcd.rst, "Bench").
bench-etcd:
	+$(MAKE) -C lib ETCD=1
	+$(MAKE) -C tools host
	+$(MAKE) -C bench/etcd
	$(TOP)/selftests/etcd/run -c '$(TOP)/bench/etcd/run $(BENCH_OUT)'

# `make bench-python`: bench/pybench.py alone (`make bench` runs it too,
# after stm-bench) in one VM boot per kernel of BENCH_KERNELS: the Python
# binding's 1-key commit, 1-key transaction and 8-key using against the C
# library's, as Python/C ratios (goal <= 2); the table on stdout,
# pybench.json in BENCH_OUT/vm/<kernel>/.
# Documentation/python.rst, "Performance".
bench-python:
	$(NEED_DEPS)
	+$(MAKE) lib python
	+$(MAKE) -C bench -f pybench.mk
	@rc=0; for k in $(or $(STM_KERNELS),$(BENCH_KERNELS)); do \
		STM_VM_NOBUILD=1 STM_VM_OUT="$(BENCH_OUT)/vm" $(VM_RUN) -k "$$k" -P \
			-a $(TOP)/bench/stm-pybench-c -a $(TOP)/bench/pybench.py \
			-c 'python3 /bin/pybench.py --c /bin/stm-pybench-c --out /out $(PYBENCH_ARGS)' \
			|| rc=1; \
	done; exit $$rc

# `make check-kamaelia STM_KAMAELIA=DIR`: Kamaelia's own Axon.STM programs,
# read from a sparkslabs/kamaelia checkout (DIR; only Code/Python/Axon is
# packed), run unchanged but for the import line against stmdev.axon in
# the VM on every kernel of STM_KERNELS (selftests/kamaelia_test.sh, which
# make check runs too and which skips without a checkout).
# Documentation/python.rst, "Kamaelia's programs".
check-kamaelia:
	@if [ ! -f "$(STM_KAMAELIA)/Code/Python/Axon/Axon/STM.py" ]; then \
		echo "check-kamaelia: set STM_KAMAELIA to a Kamaelia checkout"; exit 1; fi
	+$(MAKE) module lib python
	+$(VM_RUN) -P -a "$(abspath $(STM_KAMAELIA))/Code/Python/Axon:/kamaelia/Code/Python/Axon" \
		-T kamaelia_test.sh

# `make soak`: the SIGKILL soak (selftests/soak_test, Documentation/testing.rst)
# with SOAK_KILLS kill -9 (default 1000; make check runs a 100-kill slice)
# on each kernel of SOAK_KERNELS (STM_KERNELS overrides), one boot each.
# SOAK_SEED=n repeats a run's random sequence (the test prints its seed).
# The kill count, not a clock, sets the length: SOAK_TIMEOUT bounds a boot.
SOAK_KERNELS ?= 6.1 debug
SOAK_KILLS ?= 1000
SOAK_SEED ?=
SOAK_TIMEOUT ?= 5400
soak:
	$(NEED_DEPS)
	+$(MAKE) all
	+STM_VM_NOBUILD=1 STM_KERNELS="$(or $(STM_KERNELS),$(SOAK_KERNELS))" \
		$(VM_RUN) -t $(SOAK_TIMEOUT) -p $(SOAK_TIMEOUT) \
		-a $(TOP)/selftests/.build/soak_test \
		-c 'STM_SOAK_KILLS=$(SOAK_KILLS) $(if $(SOAK_SEED),STM_SOAK_SEED=$(SOAK_SEED)) soak_test'

# `make fuzz`: selftests/fuzz/stm-fuzz.c (built as selftests/.build/fuzz_test)
# for FUZZ_MINUTES in the VM of each FUZZ_KERNELS (default: the debug
# kernel, which has kcov; STM_DEBUG_CACHE picks its build cache), then
# selftests/fuzz/report: commands, edges, coverage of stm.ko's basic blocks,
# unreached functions, a plot.  Output in FUZZ_OUT/<kernel>/.
# make fuzz REPRO=file replays a crash file the fuzzer wrote; FUZZ_ARGS go
# to stm-fuzz (e.g. --threads 4 --seed 1).  See Documentation/testing.rst.
FUZZ_MINUTES ?= 20
FUZZ_KERNELS ?= debug
FUZZ_OUT ?= $(TOP)/.build/fuzz
FUZZ_ARGS ?=
FUZZ_SECS = $(if $(FUZZ_SECONDS),$(FUZZ_SECONDS),$(shell echo $$(( $(FUZZ_MINUTES) * 60 ))))
FUZZ_BIN := $(TOP)/selftests/.build/fuzz_test
fuzz:
	$(NEED_DEPS)
	+$(MAKE) -C selftests $(FUZZ_BIN)
	@rc=0; \
	for k in $(or $(STM_KERNELS),$(FUZZ_KERNELS)); do \
		rm -rf "$(FUZZ_OUT)/$$k"; \
		STM_VM_NOBUILD=1 STM_VM_OUT="$(FUZZ_OUT)" $(VM_RUN) -k "$$k" \
			-t $$(( $(FUZZ_SECS) + 900 )) -p $$(( $(FUZZ_SECS) + 300 )) \
			-a $(FUZZ_BIN):/bin/stm-fuzz $(if $(REPRO),-a $(abspath $(REPRO)):/repro) \
			-c 'stm-fuzz --out /out $(if $(REPRO),--repro /repro $(if $(FUZZ_SECONDS),--seconds $(FUZZ_SECONDS)),--seconds $(FUZZ_SECS)) $(FUZZ_ARGS)' || rc=1; \
		if [ -d "$(FUZZ_OUT)/$$k" ]; then echo; \
			$(TOP)/selftests/fuzz/report "$(FUZZ_OUT)/$$k" "$(TOP)/.build/$$k/kmod/stm.ko" || rc=1; \
		else echo "make fuzz: kernel $$k wrote nothing to /out" >&2; rc=1; fi; \
	done; exit $$rc

# install, uninstall, dkms-install, deb and the host-side checks.
include $(TOP)/install.mk

clean:
	+if [ -f kmod/Kbuild ] && [ -d "$(KDIR)/" ]; then $(MAKE) -C $(KDIR) M=$(TOP)/kmod clean; fi
	+for d in $(SUBDIRS); do if [ -f $$d/Makefile ]; then $(MAKE) -C $$d clean; fi; done
	+$(MAKE) -C selftests clean
	+$(MAKE) -C bench/etcd clean
	rm -rf .build
