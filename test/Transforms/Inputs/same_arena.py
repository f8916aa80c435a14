#!/usr/bin/env python3
"""Compares the arena of `dsv3-compile --report` (the plan) with the
executable's (`dsv3-run --dump`): prints both and whether they are equal."""

import re
import sys

report = open(sys.argv[1]).read()
dump = open(sys.argv[2]).read()
planned = re.search(r"memory plan of @train_step: .* in an arena of (\d+) bytes",
                    report)
shipped = re.search(r"executable of .*, arena [0-9.]+ MiB \((\d+) bytes", dump)
if not planned or not shipped:
    sys.exit("no arena in " + (sys.argv[2] if planned else sys.argv[1]))
print("planned", planned.group(1), "executable", shipped.group(1),
      "equal" if planned.group(1) == shipped.group(1) else "DIFFERENT")
