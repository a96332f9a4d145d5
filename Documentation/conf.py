# SPDX-License-Identifier: GPL-2.0
#
# Sphinx configuration for `make htmldocs` (Documentation/ -> .build/htmldocs,
# warnings as errors).  The kernel-doc comments of lib/stmdev.h and
# uapi/linux/stmdev.h come in through the kernel's own Sphinx extension and
# kernel-doc script, taken from Debian's linux-source-6.1 at build time by
# scripts/deps into .cache/kernel (never committed), like the kselftest
# harness.  STM_KERNEL_FILES points elsewhere for a tree kept outside.

import os
import sys

top = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
kernel = os.environ.get('STM_KERNEL_FILES', os.path.join(top, '.cache', 'kernel'))
sys.path.insert(0, os.path.join(kernel, 'Documentation', 'sphinx'))

project = 'stm'
author = 'the stm developers'
copyright = '2026, the stm developers'

extensions = ['kerneldoc']
kerneldoc_bin = os.path.join(kernel, 'scripts', 'kernel-doc')
kerneldoc_srctree = top

master_doc = 'index'
exclude_patterns = ['man', '_build']
primary_domain = 'c'
highlight_language = 'none'
html_theme = 'alabaster'
html_static_path = []
