"""Writes a copy of a JSON object with keys set or removed.

  edit_json.py IN OUT KEY=JSON ... -KEY ...
"""
import json
import sys

config = json.load(open(sys.argv[1]))
for edit in sys.argv[3:]:
    if edit.startswith("-"):
        config.pop(edit[1:])
    else:
        key, value = edit.split("=", 1)
        config[key] = json.loads(value)
json.dump(config, open(sys.argv[2], "w"), indent=2)
