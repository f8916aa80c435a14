#!/usr/bin/env python3
"""Extracts the ```mlir examples of every op from the generated dialect
reference and prints them as one -split-input-file stream. Fails when an
op section has no example, so every op keeps a documented, parsed one."""

import re
import sys


def main(path):
    text = open(path, encoding="utf-8").read()
    sections = re.split(r"^### `(dsv3\.[a-z0-9_]+)`", text, flags=re.M)
    missing, chunks = [], []
    for name, body in zip(sections[1::2], sections[2::2]):
        examples = re.findall(r"```mlir\n(.*?)```", body, flags=re.S)
        if not examples:
            missing.append(name)
        for example in examples:
            chunks.append(f"// {name}\n{example}")
    if missing:
        sys.exit("ops without an ```mlir example: " + ", ".join(missing))
    print("\n// -----\n\n".join(chunks))
    print(f"{len(sections) // 2} ops documented", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
