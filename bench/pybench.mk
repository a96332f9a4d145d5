# SPDX-License-Identifier: MIT
# stm-pybench-c: the C side of bench/pybench.py (make bench-python), linked
# statically against lib/libstmdev.a so the VM runs it as it is.
TOP := $(abspath $(CURDIR)/..)
CC      ?= cc
CFLAGS  ?= -O2 -g
override CFLAGS += -Wall -Wextra -Werror -D_GNU_SOURCE -std=gnu11 -I$(TOP)/lib -I$(TOP)/uapi

stm-pybench-c: stm-pybench-c.c $(TOP)/lib/libstmdev.a $(TOP)/lib/stmdev.h
	$(CC) $(CFLAGS) -static -o $@ $< $(TOP)/lib/libstmdev.a -l:liburing.a -lpthread

clean:
	rm -f stm-pybench-c
.PHONY: clean
