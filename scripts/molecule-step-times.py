"""Pass Molecule's output through and add how long each step took.

Reads `molecule test` output on stdin; after each "[<scenario> > <step>] Executed: ..." line it
prints "--- <step> took N s" (seconds since that step's "Executing" line).
"""
import re
import sys
import time

STEP = re.compile(r"\[(?P<scenario>[^\]>]+) > (?P<step>[a-z_-]+)\] (?P<what>Executing|Executed: .*)$")

started = {}
for line in sys.stdin:
    sys.stdout.write(line)
    m = STEP.search(line.rstrip("\n"))
    if not m:
        continue
    if m["what"] == "Executing":
        started[m["step"]] = time.monotonic()
    elif m["step"] in started:
        print("--- %s took %d s (%s)" % (m["step"], time.monotonic() - started.pop(m["step"]), m["what"][10:]))
    sys.stdout.flush()
