#!/usr/bin/env python3
"""Runs @compute of a dsv3 file twice: in the reference interpreter, and
lowered to LLVM and executed by mlir-runner (through a generated @main that
prints every result), then compares every element. f32 results must agree
to a relative 1e-5 (absolute 1e-6 near zero); integer results exactly.

With `--wrap=FN` the file has no @compute: one is generated that calls FN on
seeded pseudo-random constant arguments chosen from the argument attributes
(`dsv3.init` ones/zeros/normal with `dsv3.init_std`; `dsv3.batch` tokens and
targets below the vocabulary, positions 0..S-1, one segment; the step 1).
With `--lower-options=OPTS` the lowering is `dsv3-lower-to-llvm=OPTS`.
With `--exact` every element must be the same to the 6 significant digits
mlir-runner prints (which tells fp8 values apart: they have 4)."""

import random
import re
import subprocess
import sys

LOWER = ["--dsv3-lower-to-llvm"]
PRINTERS = {"f32": "printMemrefF32", "i32": "printMemrefI32",
            "i64": "printMemrefI64", "f64": "printMemrefF64"}


def split_top(text):
    """Splits at commas outside braces and angle brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "{<(":
            depth += 1
        elif ch in "}>)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:])
    return parts


def dense(shape, values, elem):
    def nest(level, flat):
        if level == len(shape):
            return flat.pop(0)
        return "[" + ", ".join(nest(level + 1, flat)
                               for _ in range(shape[level])) + "]"
    flat = [f"{float(v):.6e}" if elem.startswith("f") else str(int(v))
            for v in values]
    return f"dense<{nest(0, flat)}>"


def wrap(source, fn):
    """Returns a @compute that calls `fn` on seeded constant arguments."""
    head = re.search(r"func\.func @" + fn + r"\((.*?)\)\s*->\s*\((.*?)\)"
                     r"\s*(?:attributes\s*\{[^}]*\}\s*)?\{", source, re.S)
    rng = random.Random(1234)
    args = split_top(head.group(1))
    results = [re.search(r"tensor<[^>]*>", r).group(0)
               for r in split_top(head.group(2))]
    vocab = None
    lines, names, types = [], [], []
    for i, arg in enumerate(args):
        t = re.search(r"tensor<[^>]*>", arg).group(0)
        dims = [int(d) for d in t[7:-1].split("x")[:-1]]
        elem = t[7:-1].split("x")[-1]
        count = 1
        for d in dims:
            count *= d
        init = re.search(r'dsv3\.init = "(\w+)"', arg)
        batch = re.search(r'dsv3\.batch = "(\w+)"', arg)
        if "embed_tokens" in arg and vocab is None:
            vocab = dims[0]
        if batch and batch.group(1) in ("tokens", "targets"):
            values = [rng.randrange(vocab) for _ in range(count)]
        elif batch and batch.group(1) == "positions":
            values = [j % dims[-1] for j in range(count)]
        elif batch or elem.startswith("i"):
            values = [1 if "dsv3.role = \"step\"" in arg else 0] * count
        elif init and init.group(1) == "ones":
            values = [1.0] * count
        elif init and init.group(1) == "normal":
            std = float(re.search(r"dsv3\.init_std = ([-\d.e+]+)", arg).group(1))
            values = [round(rng.gauss(0.0, std), 6) for _ in range(count)]
        else:
            values = [0.0] * count
        lines.append(f"  %a{i} = arith.constant {dense(dims, values, elem)} : {t}")
        names.append(f"%a{i}")
        types.append(t)
    outs = [f"%o{i}" for i in range(len(results))]
    lines.insert(0, f"func.func @compute() -> ({', '.join(results)}) {{")
    lines.append(f"  {', '.join(outs)} = call @{fn}({', '.join(names)}) : "
                 f"({', '.join(types)}) -> ({', '.join(results)})")
    lines.append(f"  return {', '.join(outs)} : {', '.join(results)}\n}}")
    return "\n".join(lines) + "\n"


def append(source, text):
    """Appends `text` to the file's functions, inside its module if any."""
    if source.lstrip().startswith("module"):
        end = source.rstrip().rfind("}")
        return source[:end] + text + "}\n"
    return source + "\n" + text


def main(opt, runner, libs, path, *flags):
    # Printed again without locations: the text below is edited by pattern,
    # and location aliases after the module would be cut off from it.
    printed = subprocess.run([opt, path], capture_output=True, text=True)
    if printed.returncode != 0:
        sys.exit(f"{path}: dsv3-opt could not read it:\n{printed.stderr}")
    source = printed.stdout
    lower = LOWER
    exact = False
    for flag in flags:
        if flag == "--exact":
            exact = True
        if flag.startswith("--wrap="):
            source = append(source, wrap(source, flag[len("--wrap="):]))
        elif flag.startswith("--lower-options="):
            lower = [LOWER[0] + "=" + flag[len("--lower-options="):]]
    sig = re.search(r"func\.func @compute\(\)\s*->\s*\(?(.*?)\)?\s*\{", source, re.S)
    types = re.findall(r"tensor<[^>]*>", sig.group(1))
    names = [f"%r{i}" for i in range(len(types))]
    lines = ["func.func @main() {",
             f"  {', '.join(names)} = call @compute() : () -> ({', '.join(types)})"]
    used = set()
    for name, t in zip(names, types):
        elem = t[:-1].split("x")[-1].replace("tensor<", "")
        printer = PRINTERS[elem]
        used.add((printer, elem))
        lines.append(f"  {name}_u = tensor.cast {name} : {t} to tensor<*x{elem}>")
        lines.append(f"  call @{printer}({name}_u) : (tensor<*x{elem}>) -> ()")
    lines.append("  return\n}")
    for printer, elem in sorted(used):
        lines.append(f"func.func private @{printer}(tensor<*x{elem}>)")
    program = append(source, "\n".join(lines) + "\n")

    interp = subprocess.run([opt, "-", "-o", "/dev/null",
                             "--dsv3-interpret=function=compute all=true"],
                            input=program, capture_output=True, text=True)
    if interp.returncode:
        sys.exit("interpreter failed:\n" + interp.stderr)
    expected = [[float(v) for v in re.findall(r"[-+]?[\d.]+(?:e[-+]?\d+)?|nan|inf",
                                              m.group(1))]
                for m in re.finditer(r"^result \d+.*?\[(.*)\]$", interp.stdout,
                                     re.M)]
    lowered = subprocess.run([opt, "-"] + lower, input=program,
                             capture_output=True, text=True)
    if lowered.returncode:
        sys.exit("lowering failed:\n" + lowered.stderr)
    run = subprocess.run([runner, "-e", "main", "-entry-point-result=void",
                          "-shared-libs=" + libs], input=lowered.stdout,
                         capture_output=True, text=True)
    if run.returncode:
        sys.exit("mlir-runner failed:\n" + run.stderr)
    blocks = re.split(r"Unranked Memref[^\n]*data = ", run.stdout)[1:]
    actual = [[float(v) for v in re.findall(r"[-+]?[\d.]+(?:e[-+]?\d+)?|nan|inf",
                                            b)] for b in blocks]
    if len(actual) != len(expected):
        sys.exit(f"{len(actual)} results printed, {len(expected)} expected")
    bad = 0
    for i, (e, a) in enumerate(zip(expected, actual)):
        if len(e) != len(a):
            print(f"result {i}: {len(a)} values, expected {len(e)}")
            bad += 1
            continue
        for j, (x, y) in enumerate(zip(e, a)):
            # --exact: equal up to the printed digits (half a unit of the
            # sixth).
            same = (x != x and y != y) or x == y or (
                exact and abs(x - y) <= 5e-6 * max(abs(x), abs(y)))
            if not same and (exact or abs(x - y) > max(
                    1e-5 * max(abs(x), abs(y)), 1e-6)):
                print(f"result {i}[{j}]: interpreter {x}, compiled {y}")
                bad += 1
    print(f"{len(expected)} results, {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(*sys.argv[1:])
