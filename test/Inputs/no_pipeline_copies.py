#!/usr/bin/env python3
"""Finds pipelines spelled out outside lib/Pipelines, the one place the
compiler's stages are strung together (lib/Pipelines/Pipelines.h).

- C++ outside lib/Pipelines may not string together the passes the
  pipelines are made of (a file creating two of them): it builds its
  pipelines with lib/Pipelines' functions. One is a single pass run on its
  own (a pass's unit test). The serializer's gpu-module-to-binary, which
  turns the lowered GPU module into PTX and a cubin, is emission, not a
  stage, and is not among them.
- A test's RUN line may not spell a pipeline: no --pass-pipeline string,
  and no tool invocation with four or more of those passes (the pass under
  test and what it needs before it is a test of a single pass; more is a
  copy of a pipeline that should name it).

usage: no_pipeline_copies.py SOURCE_ROOT"""

import os
import re
import sys

# The passes of dsv3-train-pipeline, dsv3-lower-to-llvm, dsv3-bufferize-
# kernels, dsv3-gpu-map and dsv3-gpu-lower, by C++ constructor ...
CONSTRUCTORS = [
    "Autodiff", "MixedPrecision", "DecomposeAttention", "Fuse",
    "OutlineKernels", "ExtractKernels", "DedupKernels", "PlanMemory", "PrintCost",
    "Sparsify",
    "ConvertDsv3ToLinalg", "DestinationPassing", "HoistAllocs",
    "MapGenericsToGpu", "MapToGpu", "MergeGpuModules", "SplitLargeKernels",
    "OneShotBufferizePass", "LinalgElementwiseOpFusionPass",
    "EmptyTensorEliminationPass", "CanonicalizerPass", "CSEPass",
    "ForallToParallelLoopPass", "ForallToForLoopPass",
    "ConvertLinalgToParallelLoopsPass", "ConvertLinalgToLoopsPass",
    "GpuKernelOutliningPass", "ConvertGpuOpsToNVVMOps", "GpuNVVMAttachTarget",
    "ConvertFuncToLLVMPass", "ArithToLLVMConversionPass",
    "FinalizeMemRefToLLVMConversionPass", "ConvertMathToLLVMPass",
    "ConvertControlFlowToLLVMPass", "SCFToControlFlowPass", "LowerAffinePass",
    "ExpandStridedMetadataPass", "ReconcileUnrealizedCastsPass",
    "ArithExpandOpsPass", "ConvertBufferizationToMemRefPass",
]
# ... and by command-line name.
FLAGS = [
    "dsv3-autodiff", "dsv3-mixed-precision", "dsv3-sparsify",
    "dsv3-decompose-attention",
    "dsv3-fuse", "dsv3-outline-kernels", "dsv3-extract-kernels",
    "dsv3-dedup-kernels",
    "dsv3-plan-memory", "convert-dsv3-to-linalg", "dsv3-destination-passing",
    "dsv3-hoist-allocs", "dsv3-map-generics-to-gpu", "dsv3-map-to-gpu",
    "dsv3-merge-gpu-modules", "dsv3-split-large-kernels", "one-shot-bufferize",
    "linalg-fuse-elementwise-ops", "eliminate-empty-tensors", "canonicalize",
    "cse", "scf-forall-to-parallel", "scf-forall-to-for",
    "convert-linalg-to-parallel-loops", "convert-linalg-to-loops",
    "gpu-kernel-outlining", "convert-gpu-to-nvvm", "nvvm-attach-target",
    "convert-func-to-llvm", "convert-arith-to-llvm",
    "finalize-memref-to-llvm", "convert-math-to-llvm", "convert-cf-to-llvm",
    "convert-scf-to-cf", "lower-affine", "expand-strided-metadata",
    "reconcile-unrealized-casts", "arith-expand",
    "convert-bufferization-to-memref", "buffer-deallocation-pipeline",
]

root = sys.argv[1]
problems = []
constructor = re.compile(r"\bcreate(" + "|".join(CONSTRUCTORS) + r")\s*\(")
for top in ("lib", "tools", "runtime", "test", "dialects"):
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        rel = os.path.relpath(dirpath, root)
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            text = open(path, encoding="utf-8", errors="replace").read()
            if name.endswith((".cpp", ".h")) and not rel.startswith(
                    os.path.join("lib", "Pipelines")):
                created = sorted(set(constructor.findall(text)))
                if len(created) >= 2:
                    problems.append(f"{os.path.join(rel, name)}: creates "
                                    f"{', '.join(created)} outside "
                                    "lib/Pipelines")
            if name.endswith((".mlir", ".test")):
                for n, line in enumerate(text.splitlines(), 1):
                    run = re.search(r"RUN:(.*)", line)
                    if not run:
                        continue
                    if "--pass-pipeline" in run.group(1):
                        problems.append(f"{os.path.join(rel, name)}:{n}: "
                                        "a --pass-pipeline string")
                    for command in run.group(1).split("|"):
                        passes = [f for f in re.findall(r"--?([\w-]+)", command)
                                  if f in FLAGS]
                        if len(passes) >= 4:
                            problems.append(
                                f"{os.path.join(rel, name)}:{n}: "
                                f"{len(passes)} pipeline passes spelled out "
                                f"({' '.join(passes)})")
for p in problems:
    print(p)
print(f"{len(problems)} pipeline copies outside lib/Pipelines")
sys.exit(1 if problems else 0)
