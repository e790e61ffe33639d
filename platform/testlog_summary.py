#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Tallies a meson testlog.json: Criterion binaries count their own tests (Synthesis line),
every other test counts once. Prints 'N passed, N failed, N skipped'."""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        m = re.search(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)",
                      re.sub(r"\x1b\[[0-9;]*m", "", out))
        if t["result"] == "SKIP":
            skipped += 1
        elif m:
            passed += int(m.group(2))
            failed += int(m.group(3)) + int(m.group(4))
            if t["result"] != "OK" and int(m.group(3)) + int(m.group(4)) == 0:
                failed += 1
        elif t["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
