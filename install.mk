# SPDX-License-Identifier: GPL-2.0
#
# Installing stm on a real host (included by Makefile; README, "Installing
# on a real host"):
#
#   make install [DESTDIR=] [PREFIX=/usr/local] [KDIR=]
#                        stm.ko into /lib/modules/<KDIR's release>/$(MODDIR),
#                        headers, libstmdev (.so with soname, .a, stmdev.pc),
#                        stmctl and stm-bank, man pages, the udev rule and
#                        packaging/*.service, *.timer (stm-persist@); depmod and ldconfig when
#                        DESTDIR is empty
#   make uninstall       removes exactly those files (same variables)
#   make dkms-install    copies the sources to /usr/src/stm-$(STM_VERSION)
#                        and runs dkms add, build and install
#   make deb             dpkg-buildpackage -us -uc -b, packages in ../
#   make check-host      the host-side checks (no VM): install, dkms, deb
#   make check-kselftest the selftests installed as kselftest installs them,
#                        run with their run_kselftest.sh in the VM
#
# Directories (each overridable): LIBDIR for multiarch (debian/rules passes
# /usr/lib/<triplet>), UDEVRULESDIR and SYSTEMDUNITDIR are where udev and
# systemd look, whatever PREFIX is.

STM_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(TOP)/dkms.conf)
# The release the module is for: UTS_RELEASE of KDIR (Debian's 6.1 header
# trees say 6.1.<sublevel> in include/config/kernel.release, not the
# 6.1.0-N-amd64 of /lib/modules).
KVER ?= $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null)
MODDIR ?= updates
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
UDEVRULESDIR ?= /lib/udev/rules.d
SYSTEMDUNITDIR ?= /lib/systemd/system
INSTALL_DIRS = PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BINDIR=$(BINDIR) \
	LIBDIR=$(LIBDIR) INCLUDEDIR=$(INCLUDEDIR) MANDIR=$(MANDIR)

# What the packaging ships besides the programs (packaging/).
PKG_UDEV := packaging/60-stm.rules
PKG_UNITS := $(wildcard packaging/*.service packaging/*.timer)

# The kernel release `make install` targets (the tests ask).
print-kver:
	@echo $(KVER)

.PHONY: check-kselftest print-kver install install-module install-userspace uninstall dkms-install \
	deb check-host

install: install-module install-userspace

install-module: module
	@if [ -z "$(KVER)" ]; then echo "make install: no kernel release in KDIR='$(KDIR)'" >&2; exit 1; fi
	install -D -m 0644 kmod/stm.ko $(DESTDIR)/lib/modules/$(KVER)/$(MODDIR)/stm.ko
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

# Also what debian/rules calls (no module there: DKMS builds it).
install-userspace: lib tools
	install -D -m 0644 uapi/linux/stmdev.h $(DESTDIR)$(INCLUDEDIR)/linux/stmdev.h
	+$(MAKE) -C lib install $(INSTALL_DIRS)
	+$(MAKE) -C tools install $(INSTALL_DIRS)
	install -D -m 0644 $(PKG_UDEV) $(DESTDIR)$(UDEVRULESDIR)/$(notdir $(PKG_UDEV))
	if [ -z "$(DESTDIR)" ]; then ldconfig; fi
	$(if $(PKG_UNITS),install -d $(DESTDIR)$(SYSTEMDUNITDIR))
	$(if $(PKG_UNITS),install -m 0644 $(PKG_UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/)

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/$(MODDIR)/stm.ko
	if [ -z "$(DESTDIR)" ] && [ -n "$(KVER)" ] && [ -d /lib/modules/$(KVER) ]; then depmod -a $(KVER); fi
	rm -f $(DESTDIR)$(INCLUDEDIR)/linux/stmdev.h
	+$(MAKE) -C lib uninstall $(INSTALL_DIRS)
	+$(MAKE) -C tools uninstall $(INSTALL_DIRS)
	rm -f $(DESTDIR)$(UDEVRULESDIR)/$(notdir $(PKG_UDEV))
	$(if $(PKG_UNITS),rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(PKG_UNITS))))

# The DKMS source tree: what dkms.conf's MAKE needs (Kbuild, kmod/, uapi/).
DKMS_SRC ?= /usr/src/stm-$(STM_VERSION)
dkms-install:
	rm -rf $(DESTDIR)$(DKMS_SRC)
	install -d $(DESTDIR)$(DKMS_SRC)
	cp -r dkms.conf Kbuild kmod uapi $(DESTDIR)$(DKMS_SRC)/
	find $(DESTDIR)$(DKMS_SRC) \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' \
		-o -name '.*.cmd' -o -name modules.order -o -name Module.symvers \) -delete
	if [ -z "$(DESTDIR)" ]; then dkms add stm/$(STM_VERSION) && \
		dkms build stm/$(STM_VERSION) && dkms install stm/$(STM_VERSION); fi

deb:
	dpkg-buildpackage -us -uc -b

# Host-side checks, no VM: make check runs them before the VMs.
# STM_HOST_CHECKS picks some (install dkms deb).
STM_HOST_CHECKS ?= install dkms deb
# Exit 4 is a skip (a tool truly absent), anything else non-zero a failure.
check-host:
	+@rc=0; for t in $(STM_HOST_CHECKS); do \
		r=0; $(TOP)/selftests/host/$${t}_test.sh || r=$$?; \
		if [ $$r = 4 ]; then echo "# $$t: skipped"; elif [ $$r != 0 ]; then rc=1; fi; \
	done; exit $$rc

check-kselftest: module lib tools
	+$(MAKE) selftests
	$(TOP)/selftests/vm/kselftest_check.sh
