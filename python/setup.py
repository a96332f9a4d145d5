# SPDX-License-Identifier: MIT
"""Build of the _stmdev extension: links the libstmdev.a of ../lib (built
first when missing: make -C ../lib), or, outside the stm tree, the
installed library found by pkg-config (STMDEV_PKGCONFIG=1 forces that)."""

import os
import subprocess

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)
lib = os.path.join(top, "lib")

ext_args = dict(extra_compile_args=["-std=gnu11", "-Wall", "-Wextra",
                                    "-Wno-unused-parameter",
                                    "-Wno-missing-field-initializers"])
if os.path.exists(os.path.join(lib, "stmdev.h")) and not os.environ.get("STMDEV_PKGCONFIG"):
    if not os.path.exists(os.path.join(lib, "libstmdev.a")):
        subprocess.check_call(["make", "-C", lib, "libstmdev.a"])
    ext_args.update(include_dirs=[lib, os.path.join(top, "uapi")],
                    extra_objects=[os.path.join(lib, "libstmdev.a")],
                    libraries=["uring", "pthread"],
                    depends=[os.path.join(lib, "libstmdev.a"),
                             os.path.join(lib, "stmdev.h")])
else:
    cflags = subprocess.check_output(["pkg-config", "--cflags", "stmdev"]).decode().split()
    libs = subprocess.check_output(["pkg-config", "--libs", "stmdev"]).decode().split()
    ext_args.update(include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
                    library_dirs=[f[2:] for f in libs if f.startswith("-L")],
                    libraries=[f[2:] for f in libs if f.startswith("-l")])

setup(packages=["stmdev"], ext_modules=[Extension("stmdev._stmdev", ["stmdev/_stmdev.c"], **ext_args)])
