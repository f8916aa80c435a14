#!/usr/bin/env python3
"""Runs @compute of a dsv3 file twice: in the reference interpreter, and
lowered to LLVM and executed by mlir-runner (through a generated @main that
prints every result), then compares every element. f32 results must agree
to a relative 1e-5 (absolute 1e-6 near zero); integer results exactly."""

import re
import subprocess
import sys

LOWER = ["--convert-dsv3-to-linalg", "--linalg-fuse-elementwise-ops",
         "--one-shot-bufferize=bufferize-function-boundaries",
         "--buffer-deallocation-pipeline", "--convert-bufferization-to-memref",
         "--convert-linalg-to-loops",
         "--expand-strided-metadata", "--lower-affine", "--convert-scf-to-cf",
         "--convert-math-to-llvm", "--convert-arith-to-llvm",
         "--finalize-memref-to-llvm", "--convert-func-to-llvm",
         "--convert-cf-to-llvm", "--reconcile-unrealized-casts"]
PRINTERS = {"f32": "printMemrefF32", "i32": "printMemrefI32",
            "i64": "printMemrefI64", "f64": "printMemrefF64"}


def main(opt, runner, libs, path):
    source = open(path, encoding="utf-8").read()
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
    program = source + "\n" + "\n".join(lines) + "\n"

    interp = subprocess.run([opt, "-", "-o", "/dev/null",
                             "--dsv3-interpret=function=compute all=true"],
                            input=program, capture_output=True, text=True)
    if interp.returncode:
        sys.exit("interpreter failed:\n" + interp.stderr)
    expected = [[float(v) for v in re.findall(r"[-+]?[\d.]+(?:e[-+]?\d+)?|nan|inf",
                                              m.group(1))]
                for m in re.finditer(r"^result \d+.*?\[(.*)\]$", interp.stdout,
                                     re.M)]
    lowered = subprocess.run([opt, "-"] + LOWER, input=program,
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
            if abs(x - y) > max(1e-5 * max(abs(x), abs(y)), 1e-6):
                print(f"result {i}[{j}]: interpreter {x}, compiled {y}")
                bad += 1
    print(f"{len(expected)} results, {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(*sys.argv[1:5])
