# SPDX-License-Identifier: MIT
"""pytest glue for the VM: KTAP lines for the runner's verdict (one
"ok N"/"not ok N" per test, the plan at the end), and fixtures."""

import os

import pytest

import stmdev

_n = [0]


def pytest_runtest_logreport(report):
    ktap = os.environ.get("STM_KTAP")
    if not ktap:
        return
    name = report.nodeid.replace("#", "_")
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _n[0] += 1
        if report.passed:
            line = "ok %d %s" % (_n[0], name)
        elif report.skipped:
            line = "ok %d %s # SKIP %s" % (_n[0], name, report.longrepr[2]
                                           if isinstance(report.longrepr, tuple) else "")
        else:
            line = "not ok %d %s" % (_n[0], name)
        with open(ktap, "a") as f:
            f.write(line + "\n")


def pytest_sessionfinish(session, exitstatus):
    ktap = os.environ.get("STM_KTAP")
    if ktap:
        with open(ktap, "a") as f:
            f.write("1..%d\n" % _n[0])


@pytest.fixture
def name(request):
    """A store name unique to this test (and unlinked after it)."""
    n = "pyt-%d-%s" % (os.getpid(), request.node.name[:40])
    n = "".join(c if c.isalnum() or c in "._-" else "_" for c in n)[:stmdev.NAME_MAX]
    yield n
    try:
        stmdev.unlink(n)
    except stmdev.Error:
        pass


@pytest.fixture
def store(name):
    s = stmdev.Store(name)
    yield s
    s.close()
