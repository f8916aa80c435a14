//===- cuda_launch.cpp - launch arguments and GEMM shapes for CUDA --------===//

#include "cuda_launch.h"

#include <cstring>

namespace dsv3::runtime {

PackedLaunchArgs packLaunchArgs(const GpuLaunch &launch,
                                const std::function<uint64_t(int)> &address) {
  PackedLaunchArgs packed;
  packed.slots.resize(launch.args_size(), 0);
  for (int i = 0; i < launch.args_size(); ++i) {
    const GpuArg &arg = launch.args(i);
    void *slot = &packed.slots[i];
    switch (arg.value_case()) {
    case GpuArg::kBuffer:
      packed.slots[i] = address(arg.buffer());
      break;
    case GpuArg::kI64: {
      int64_t v = arg.i64();
      std::memcpy(slot, &v, sizeof(v));
      break;
    }
    case GpuArg::kI32: {
      int32_t v = arg.i32();
      std::memcpy(slot, &v, sizeof(v));
      break;
    }
    case GpuArg::kF32: {
      float v = arg.f32();
      std::memcpy(slot, &v, sizeof(v));
      break;
    }
    case GpuArg::kF64: {
      double v = arg.f64();
      std::memcpy(slot, &v, sizeof(v));
      break;
    }
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
