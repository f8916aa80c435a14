//===- cuda_launch.cpp - launch arguments and GEMM shapes for CUDA --------===//

#include "cuda_launch.h"

#include <cstring>

namespace dsv3::runtime {

namespace {

/// Stores `value` at the start of an 8-byte slot, as the kernel reads it.
template <typename T> void put(uint64_t &slot, T value) {
  static_assert(sizeof(T) <= sizeof(uint64_t));
  std::memcpy(&slot, &value, sizeof(T));
}

} // namespace

PackedLaunchArgs packLaunchArgs(const GpuLaunch &launch,
                                const std::function<uint64_t(int)> &address) {
  PackedLaunchArgs packed;
  packed.slots.resize(launch.args_size(), 0);
  for (int i = 0; i < launch.args_size(); ++i) {
    const GpuArg &arg = launch.args(i);
    uint64_t &slot = packed.slots[i];
    switch (arg.value_case()) {
    case GpuArg::kBuffer:
      slot = address(arg.buffer());
      break;
    case GpuArg::kI64:
      put(slot, arg.i64());
      break;
    case GpuArg::kI32:
      put(slot, arg.i32());
      break;
    case GpuArg::kF32:
      put(slot, arg.f32());
      break;
    case GpuArg::kF64:
      put(slot, arg.f64());
      break;
    default:
      break;
    }
  }
  for (uint64_t &slot : packed.slots)
    packed.pointers.push_back(&slot);
  return packed;
}

LtMatmul ltMatmulFor(const Gemm &g) {
  LtMatmul lt;
  // Row-major [r, c] is column-major [c, r] with leading dimension c.
  lt.transA = g.trans_b();
  lt.transB = g.trans_a();
  lt.m = g.n();
  lt.n = g.m();
  lt.k = g.k();
  lt.a = g.b();
  lt.b = g.a();
  lt.lda = g.trans_b() ? g.k() : g.n();
  lt.ldb = g.trans_a() ? g.m() : g.k();
  lt.ldc = g.n();
  lt.aRows = lt.transA ? lt.k : lt.m;
  lt.aCols = lt.transA ? lt.m : lt.k;
  lt.bRows = lt.transB ? lt.n : lt.k;
  lt.bCols = lt.transB ? lt.k : lt.n;
  lt.batch = g.batch();
  lt.strideA = g.stride_b();
  lt.strideB = g.stride_a();
  lt.strideC = g.stride_c();
  return lt;
}

} // namespace dsv3::runtime
