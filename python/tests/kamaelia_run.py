# SPDX-License-Identifier: MIT
"""Kamaelia's own Axon.STM programs, run unchanged (but for the import
line) against stmdev.axon, each outcome asserted against Axon's own.

    python3 kamaelia_run.py CHECKOUT     (a sparkslabs/kamaelia checkout;
                                          only Code/Python/Axon is used)

Nothing of Kamaelia is in this repository: the programs are read from
the checkout at run time (Documentation/python.rst, "Kamaelia's
programs").  Each program is run in a child python3 twice: once against
Axon's own Axon/STM.py from the checkout (the reference: Axon's expected
output and outcome) and once against stmdev.axon, and the two outputs
are compared after the documented deviations are normalised (versions
are the store's clock, dump() lists keys sorted).  The dining
philosophers never end: their child stops once every philosopher has
eaten ROUNDS times, and fails when two neighbours hold one fork.

The changes made to a program, all mechanical and listed in its entry:
"from Axon.STM import" becomes "from stmdev.axon import"; Python 2
print statements in Axon's docstring examples become print() calls;
the __main__ section of Axon/STM.py (inside the module it tests) is cut
into its four "if 0:/if 1:" blocks, each run as a program with the
import line added.

Prints KTAP; exit 0 all passed, 1 a program failed, 4 no checkout.
"""

import ast
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading

ROUNDS = 3          # meals per philosopher before a philosopher run stops
AXON_DIR = os.path.join("Code", "Python", "Axon")


# ---- the programs ------------------------------------------------------------

def _read(top, *path):
    with open(os.path.join(top, *path), encoding="utf-8") as f:
        return f.read()


def _py2_prints(src):
    """The mechanical 2to3 change for print statements (only those)."""
    out = []
    for line in src.splitlines():
        m = re.match(r"^(\s*)print (?!\()(.*)$", line)
        if m:
            line = "%sprint(%s)" % (m.group(1), m.group(2))
        elif re.match(r"^\s*print\s*$", line):
            line = line.replace("print", "print()")
        out.append(line)
    return "\n".join(out) + "\n"


def _stm_main_blocks(stm_src):
    """The four blocks of Axon/STM.py's __main__ section, dedented."""
    main = stm_src.split('if __name__ == "__main__":', 1)[1]
    parts = re.split(r"^    if [01]:\n", main, flags=re.M)[1:]
    return [textwrap.dedent(p) for p in parts]


def _doc_examples(stm_src):
    """The three literal blocks ("::") of Axon.STM's module docstring."""
    doc = ast.get_docstring(ast.parse(stm_src))
    blocks = []
    for m in re.finditer(r"::\n\n((?:    .*\n|\n)+)", doc + "\n"):
        blocks.append(textwrap.dedent(m.group(1)))
    return blocks


def programs(top):
    """[(name, source, kind, changes)] read from the checkout."""
    stm = _read(top, AXON_DIR, "Axon", "STM.py")
    progs = []
    for i, b in enumerate(_doc_examples(stm), 1):
        ch = ["print statements made print() calls"] if re.search(r"^\s*print [^(]", b, re.M) else []
        if "from Axon.STM import" not in b:
            b = "from Axon.STM import Store\n" + b
            ch.append("import line added (the example assumes it)")
        progs.append(("Axon/STM.py docstring example %d" % i, _py2_prints(b), "finite", ch))
    for i, b in enumerate(_stm_main_blocks(stm), 1):
        progs.append(("Axon/STM.py __main__ block %d" % i,
                      "from Axon.STM import Store\n" + b, "finite",
                      ["cut out of the module's __main__ section, import line added"]))
    ex = os.path.join(AXON_DIR, "Examples", "STM")
    progs.append(("Examples/STM/Philosophers.py", _read(top, ex, "Philosophers.py"),
                  "philosophers", []))
    progs.append(("Examples/STM/Axon.Philosophers.py",
                  _read(top, ex, "Axon.Philosophers.py"), "philosophers",
                  ["Axon.STM names stmdev.axon (the program also says Axon.STM.X)"]))
    return progs


def to_stmdev(src):
    """The one change: the import line."""
    return re.sub(r"^(\s*)from Axon\.STM import", r"\1from stmdev.axon import",
                  src, flags=re.M)


# ---- the child: runs one program ------------------------------------------------

class LineOut(object):
    """sys.stdout for threaded programs: whole lines, in the order their
    print() calls ended (print writes its pieces separately), handed to
    watch(line) under one lock."""

    def __init__(self, real, watch):
        self.real = real
        self.watch = watch
        self.lock = threading.Lock()
        self.bufs = {}

    def write(self, s):
        me = threading.get_ident()
        buf = self.bufs.get(me, "") + s
        *lines, rest = buf.split("\n")
        self.bufs[me] = rest
        if lines:
            with self.lock:
                for line in lines:
                    self.real.write(line + "\n")
                    self.real.flush()
                    self.watch(line)
        return len(s)

    def flush(self):
        self.real.flush()


class Philosophers(object):
    """Watches the philosophers' lines: a fork held by two is a failure;
    every philosopher having eaten ROUNDS times ends the run."""

    N = 5

    def __init__(self):
        self.holder = {}
        self.meals = {}

    def __call__(self, line):
        m = re.match(r"Got forks! (\S+) (\[.*\])$", line)
        if m:
            who, forks = m.group(1), ast.literal_eval(m.group(2))
            for f in forks:
                if f in self.holder:
                    sys.stderr.write("SAFETY: %s got %s held by %s\n"
                                     % (who, f, self.holder[f]))
                    os._exit(3)
            for f in forks:
                self.holder[f] = who
            self.meals[who] = self.meals.get(who, 0) + 1
            if len(self.meals) == self.N and min(self.meals.values()) >= ROUNDS:
                sys.stdout.real.write("OUTCOME: %d philosophers ate %d+ times each\n"
                                      % (self.N, ROUNDS))
                sys.stdout.real.flush()
                os._exit(0)
            return
        m = re.match(r"releasing forks (\S+)$", line)
        if m:
            who = m.group(1)
            for f, h in list(self.holder.items()):
                if h == who:
                    del self.holder[f]


def child(mode, top, kind, path):
    import types
    axon_pkg = os.path.join(top, AXON_DIR)
    sys.path.insert(0, axon_pkg)        # Kamaelia's Axon package (threadedcomponent)
    if mode == "axon":
        import Axon.STM                  # noqa: F401  Axon's own, the reference
    else:
        import stmdev.axon
        try:
            import Axon
        except ImportError:
            Axon = types.ModuleType("Axon")
            sys.modules["Axon"] = Axon
        sys.modules["Axon.STM"] = stmdev.axon
        Axon.STM = stmdev.axon
    if kind == "philosophers":
        watch = Philosophers()

        def hook(a):
            sys.stderr.write("EXCEPTION in %s: %s: %s\n"
                             % (a.thread.name, a.exc_type.__name__, a.exc_value))
            os._exit(2)
        threading.excepthook = hook
    else:
        watch = lambda line: None       # noqa: E731
    sys.stdout = LineOut(sys.stdout, watch)
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    g = {"__name__": "__main__", "__file__": path}
    try:
        exec(code, g)
        outcome = "ok"
    except Exception as e:              # Axon's programs end on one on purpose
        outcome = "raised " + type(e).__name__
    sys.stdout.flush()
    sys.stdout = sys.stdout.real
    print("OUTCOME: " + outcome)
    sys.stdout.flush()
    os._exit(0)


# ---- the parent -------------------------------------------------------------------

def normalise(out):
    """The documented deviations: versions (the store's clock, not a
    per-key count), dump() order (sorted, not dict order)."""
    lines = [re.sub(r"Value\(\d+, ", "Value(V, ", line) for line in out.splitlines()]
    res, dump = [], None
    for line in lines:
        if line.startswith("DEBUG: Store dump"):
            res.append(line)
            dump = []
        elif dump is not None and line.startswith("      "):
            dump.append(line)
        else:
            if dump is not None:
                res.extend(sorted(dump))
                dump = None
            res.append(line)
    if dump:
        res.extend(sorted(dump))
    return res


def run(mode, top, kind, src, tmp, n):
    path = os.path.join(tmp, "prog%d-%s.py" % (n, mode))
    with open(path, "w") as f:
        f.write(src)
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode,
                        top, kind, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def main(argv):
    if len(argv) > 1 and argv[1] == "--child":
        return child(*argv[2:6])
    print("TAP version 13")
    top = argv[1] if len(argv) > 1 else os.environ.get("STM_KAMAELIA", "")
    if not top or not os.path.isfile(os.path.join(top, AXON_DIR, "Axon", "STM.py")):
        print("1..0 # SKIP no Kamaelia checkout (STM_KAMAELIA=%r)" % top)
        return 4
    progs = programs(top)
    print("1..%d" % len(progs))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, src, kind, changes) in enumerate(progs, 1):
            print("# %s: changes: %s" % (name, "; ".join(
                ["from Axon.STM import -> from stmdev.axon import"] + changes)))
            why = None
            ours = run("stmdev", top, kind, to_stmdev(src), tmp, n)
            for line in ours[1].splitlines()[-12:]:
                print("#   | " + line)
            for line in ours[2].splitlines()[-12:]:
                print("#   ! " + line)
            if ours[0] != 0:
                why = "stmdev.axon run exited %d" % ours[0]
            elif kind == "finite":
                ref = run("axon", top, kind, src, tmp, n)
                if ref[0] != 0:
                    why = "Axon's own run exited %d: %s" % (ref[0], ref[2][-300:])
                elif normalise(ref[1]) != normalise(ours[1]):
                    why = "output differs from Axon's"
                    for line in normalise(ref[1]):
                        print("#   axon | " + line)
            if why:
                failed += 1
                print("not ok %d %s # %s" % (n, name, why))
            else:
                print("ok %d %s" % (n, name))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
