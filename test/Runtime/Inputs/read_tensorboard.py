"""Reads a dsv3-run --tensorboard directory back with TensorBoard's own
reader and checks it against the --metrics file of the same run: every
metric of every step is a scalar with the metric's value (as float32).

  read_tensorboard.py DIR METRICS.jsonl
"""
import json
import sys

import numpy as np
from tensorboard.backend.event_processing import event_accumulator

directory, metrics = sys.argv[1], sys.argv[2]
acc = event_accumulator.EventAccumulator(
    directory, size_guidance={event_accumulator.SCALARS: 0})
acc.Reload()
tags = acc.Tags()["scalars"]
rows = [json.loads(line) for line in open(metrics)]
missing = []
for row in rows:
    for name, value in row.items():
        if name == "step" or value is None:
            continue
        if name not in tags:
            missing.append(f"{name} (no such tag)")
            continue
        events = [e for e in acc.Scalars(name) if e.step == row["step"]]
        if len(events) != 1:
            missing.append(f"{name} at step {row['step']}: {len(events)} events")
        elif events[0].value != np.float32(value):
            missing.append(f"{name} at step {row['step']}: {events[0].value} "
                           f"!= {value}")
if missing:
    sys.exit("\n".join(missing))
print(f"{len(rows)} steps, {len(tags)} scalars each, all found: "
      + ", ".join(sorted(tags)))
