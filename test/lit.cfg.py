# lit configuration of the dsv3 test suite.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "dsv3"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.dsv3_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit", "Inputs"]

config.substitutions.append(("%dsv3_src_root", config.dsv3_src_root))
config.substitutions.append(("%dsv3_obj_root", config.dsv3_obj_root))
config.substitutions.append(("%python", config.python_executable))
# Running lowered code: mlir-runner and the runtime libraries it loads.
config.substitutions.append(("%mlir_runner_libs", ",".join(
    os.path.join(config.llvm_lib_dir, lib)
    for lib in ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))))
config.substitutions.append(("%compare_with_interpreter", " ".join([
    config.python_executable,
    os.path.join(config.test_source_root, "Conversion",
                 "compare_with_interpreter.py"),
    os.path.join(config.dsv3_tools_dir, "dsv3-opt"),
    os.path.join(config.llvm_tools_dir, "mlir-runner"),
    ",".join(os.path.join(config.llvm_lib_dir, lib)
             for lib in ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so")),
])))
config.substitutions.append(("%lower_to_llvm", "--dsv3-lower-to-llvm"))

# The CUDA toolkit: the cuda target's tests need ptxas and libdevice.
cuda_path = os.environ.get("DSV3_CUDA_PATH", "/usr/local/cuda")
if os.path.exists(os.path.join(cuda_path, "bin", "ptxas")) and os.path.exists(
        os.path.join(cuda_path, "nvvm", "libdevice", "libdevice.10.bc")):
    config.available_features.add("cuda-toolkit")
config.substitutions.append(("%cuda_path", cuda_path))
# A machine with an NVIDIA driver (and so, perhaps, a GPU).
try:
    import ctypes
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass
config.substitutions.append(("%ptxas", os.path.join(cuda_path, "bin", "ptxas")))

# Test tooling from PyPI (scripts/setup.sh): transformers and PyTorch as
# the independent reference of the Hugging Face tests, tensorboard to read
# event files. Run with the `python3` on PATH, resolved to its interpreter.
import shutil
import subprocess
tools_python = None
if shutil.which("python3"):
    try:
        tools_python = subprocess.run(
            ["python3", "-c",
             "import sys, torch, transformers, tensorboard, safetensors; "
             "print(sys.executable)"],
            capture_output=True, text=True, timeout=120).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        tools_python = None
if tools_python:
    config.available_features.add("python-tools")
config.substitutions.append(("%pytools", tools_python or "false"))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# -Ddsv3_run=PATH runs the tests with another dsv3-run (scripts/sanitize.sh
# runtime: a sanitized one beside this build's compiler).
dsv3_run = lit_config.params.get("dsv3_run")
tools = [
    ToolSubst("dsv3-opt", unresolved="fatal"),
    ToolSubst("dsv3-compile", unresolved="fatal"),
    ToolSubst("dsv3-run", command=dsv3_run, unresolved="fatal")
    if dsv3_run else ToolSubst("dsv3-run", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, [config.dsv3_tools_dir])
