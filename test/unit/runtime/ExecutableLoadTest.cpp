//===- ExecutableLoadTest.cpp - reading and checking .dsv3 files ----------===//
//
// The framing (magic, length, checksum), the consistency checks the loader
// makes before a backend trusts an executable, and memrefCopy, the one
// runtime function generated kernels call.
//
//===----------------------------------------------------------------------===//

#include "element_type.h"
#include "executable.h"
#include "executable_format.h"

#include <gtest/gtest.h>

#include <cmath>

#include <vector>

extern "C" void memrefCopy(int64_t elementSize, void *src, void *dst);

using namespace dsv3::runtime;

namespace {

/// A valid executable: two f32 [4, 8] buffers and a GEMM [4x8] x [8x8]^T,
/// with the step and loss buffers every executable has (ids 3 and 4).
Executable smallExecutable() {
  Executable exe;
  exe.set_format_version(kExecutableFormatVersion);
  exe.set_target("cpu");
  exe.set_arena_bytes(640);
  exe.set_micro_batch(1);
  exe.set_seq_len(1);
  exe.set_vocab_size(1);
  for (int i = 0; i < 3; ++i) {
    Buffer *b = exe.add_buffers();
    b->set_dtype(TYPE_F32);
    b->add_shape(i == 1 ? 8 : 4);
    b->add_shape(8);
    b->set_bytes((i == 1 ? 8 : 4) * 8 * 4);
    b->set_offset(i * 256 / 2);
    b->set_role(ACTIVATION);
  }
  exe.mutable_buffers(1)->set_offset(128);
  exe.mutable_buffers(2)->set_offset(384);
  Buffer *step = exe.add_buffers();
  step->set_dtype(TYPE_I64);
  step->set_bytes(8);
  step->set_offset(512);
  step->set_role(STEP);
  Buffer *loss = exe.add_buffers();
  loss->set_dtype(TYPE_F32);
  loss->set_bytes(4);
  loss->set_offset(576);
  loss->set_role(LOSS);
  Gemm *g = exe.add_commands()->mutable_gemm();
  g->set_a(0);
  g->set_b(1);
  g->set_c(2);
  g->set_trans_b(true);
  g->set_batch(1);
  g->set_m(4);
  g->set_n(8);
  g->set_k(8);
  return exe;
}

std::string bytesOf(const Executable &exe) {
  std::string payload;
  EXPECT_TRUE(exe.SerializeToString(&payload));
  return frameExecutable(payload);
}

std::string errorOf(const std::string &bytes) {
  auto parsed = parseExecutable(bytes, "x.dsv3");
  return parsed ? "" : parsed.status().message();
}

TEST(ExecutableLoad, RoundTrips) {
  auto parsed = parseExecutable(bytesOf(smallExecutable()), "x.dsv3");
  ASSERT_TRUE(parsed) << parsed.status().message();
  EXPECT_EQ(parsed->commands(0).gemm().n(), 8);
}

TEST(ExecutableLoad, RejectsForeignTruncatedAndCorruptedFiles) {
  std::string bytes = bytesOf(smallExecutable());
  EXPECT_NE(errorOf("hello").find("not a dsv3 executable"), std::string::npos);
  EXPECT_NE(errorOf(bytes.substr(0, bytes.size() - 3)).find("truncated"),
            std::string::npos);
  EXPECT_NE(errorOf(bytes + "x").find("truncated or padded"), std::string::npos);
  std::string corrupted = bytes;
  corrupted[kExecutableHeaderBytes + 5] ^= 0x40;
  EXPECT_NE(errorOf(corrupted).find("checksum"), std::string::npos);
}

TEST(ExecutableLoad, ChecksBuffersAndCommands) {
  auto check = [](auto mutate) {
    Executable exe = smallExecutable();
    mutate(exe);
    Status s = checkExecutable(exe, "x.dsv3");
    return s ? std::string() : s.message();
  };
  EXPECT_EQ(check([](Executable &) {}), "");
  EXPECT_NE(check([](Executable &e) { e.set_format_version(1); })
                .find("format version 1"),
            std::string::npos);
  // The format before GPU function signatures.
  EXPECT_NE(check([](Executable &e) {
              e.set_format_version(kExecutableFormatVersion - 1);
            }).find("recompile the model with this dsv3-compile"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) { e.mutable_buffers(2)->set_offset(576); })
                .find("outside the arena"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) { e.mutable_buffers(0)->set_bytes(4); })
                .find("its shape needs 128"),
            std::string::npos);
  // Found by the executable fuzzer: the message itself overflowed.
  EXPECT_NE(check([](Executable &e) {
              e.mutable_buffers(0)->set_shape(0, INT64_MAX);
              e.mutable_buffers(0)->set_shape(1, 1);
            }).find("its shape needs more than an int64 counts"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) { e.mutable_buffers(1)->set_offset(130); })
                .find("not 64-byte aligned"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) {
              e.mutable_commands(0)->mutable_gemm()->set_c(7);
            }).find("names buffer 7 of 5"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) {
              e.mutable_commands(0)->mutable_gemm()->set_m(5);
            }).find("needs 160"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) {
              e.mutable_buffers(1)->set_dtype(TYPE_I32);
            }).find("is i32, expected f32"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) { e.add_commands(); }).find("has no kind"),
            std::string::npos);
  // The trainer writes the step number as an i64 and the batch as i32.
  EXPECT_NE(check([](Executable &e) { e.mutable_buffers(0)->set_role(STEP); })
                .find("is the step number but not an i64 scalar"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) { e.mutable_buffers(0)->set_role(BATCH); })
                .find("is a batch input but not i32"),
            std::string::npos);
  // A GEMM's type is its result's: f32 or bf16, with operands alike.
  auto allBf16 = [](Executable &e) {
    for (int i = 0; i < 3; ++i) {
      Buffer *b = e.mutable_buffers(i);
      b->set_dtype(TYPE_BF16);
      b->set_bytes(b->bytes() / 2);
    }
  };
  EXPECT_EQ(check(allBf16), "");
  EXPECT_NE(check([&](Executable &e) {
              allBf16(e);
              e.mutable_commands(0)->mutable_gemm()->set_m(5);
            }).find("needs 80"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) {
              allBf16(e);
              e.mutable_buffers(0)->set_dtype(TYPE_F32);
              e.mutable_buffers(0)->set_bytes(128);
            }).find("is f32, expected bf16"),
            std::string::npos);
  EXPECT_NE(check([](Executable &e) {
              for (int i = 0; i < 3; ++i)
                e.mutable_buffers(i)->set_dtype(TYPE_I32);
            }).find("a GEMM on i32 (f32, bf16 and f16 are supported)"),
            std::string::npos);
}

/// The small executable for the GPU: its GEMM stays (cuBLASLt runs it),
/// and a GPU function takes buffer 0 and the scalar 7 on a grid of 2 x 64.
Executable smallGpuExecutable() {
  Executable exe = smallExecutable();
  exe.set_target("cuda");
  exe.set_sm(90);
  GpuLaunch *l = exe.add_commands()->mutable_gpu_launch();
  l->set_function("f");
  for (int64_t d : {2, 1, 1})
    l->add_grid(d);
  for (int64_t d : {64, 1, 1})
    l->add_block(d);
  l->add_args()->set_buffer(0);
  l->add_args()->set_i64(7);
  GpuSignature *sig = exe.add_gpu_functions();
  sig->set_function("f");
  *sig->mutable_grid() = l->grid();
  *sig->mutable_block() = l->block();
  sig->add_params()->set_buffer_bytes(128);
  sig->add_params()->mutable_scalar()->set_i64(7);
  return exe;
}

// A GPU launch is checked against its function's signature, as a kernel
// launch is: a crafted launch can neither pass fewer or smaller buffers, nor
// other scalars, nor a grid larger than the code was generated for.
TEST(ExecutableLoad, ChecksGpuLaunchesAgainstTheirSignatures) {
  auto check = [](auto mutate) {
    Executable exe = smallGpuExecutable();
    mutate(exe);
    Status s = checkExecutable(exe, "x.dsv3");
    return s ? std::string() : s.message();
  };
  auto launch = [](Executable &e) {
    return e.mutable_commands(1)->mutable_gpu_launch();
  };
  EXPECT_EQ(check([](Executable &) {}), "");
  EXPECT_NE(check([&](Executable &e) { e.clear_gpu_functions(); })
                .find("command 1 launches f, which has no signature"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) { *e.add_gpu_functions() = e.gpu_functions(0); })
                .find("GPU function f has two signatures"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) { launch(e)->mutable_args()->RemoveLast(); })
                .find("passes 1 arguments, the function takes 2"),
            std::string::npos);
  EXPECT_EQ(check([&](Executable &e) { launch(e)->mutable_args(0)->set_buffer(2); }),
            "");
  EXPECT_NE(check([&](Executable &e) { launch(e)->mutable_args(0)->set_buffer(1); })
                .find("passes buffer 1 of 256 bytes as argument 0, the "
                      "function takes 128"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) { launch(e)->mutable_args(0)->set_i64(0); })
                .find("passes a scalar as argument 0"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) { launch(e)->mutable_args(1)->set_i64(8); })
                .find("passes i64 8 as argument 1, the function was compiled "
                      "for i64 7"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) { launch(e)->mutable_args(1)->set_i32(7); })
                .find("passes i32 7 as argument 1"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) { launch(e)->mutable_args(1)->set_buffer(0); })
                .find("passes a buffer as argument 1, the function takes the "
                      "scalar i64 7"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) {
              e.mutable_gpu_functions(0)->mutable_params(1)->clear_kind();
            }).find("parameter 1 is neither a buffer nor a scalar"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) { launch(e)->set_grid(0, 3); })
                .find("launches grid 3x1x1, block 64x1x1; the function was "
                      "compiled for grid 2x1x1, block 64x1x1"),
            std::string::npos);
  EXPECT_NE(check([&](Executable &e) { launch(e)->set_block(0, 128); })
                .find("compiled for grid 2x1x1, block 64x1x1"),
            std::string::npos);
}

TEST(ElementType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: even (1) wins; just
  // above it rounds up, and 1 + 3 * 2^-8 ties up to the even 1 + 2^-6.
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f), 0x3f80);
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
  EXPECT_EQ(floatToBf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(floatToBf16(-2.5f), 0xc020);
  EXPECT_EQ(floatToBf16(3.4e38f), 0x7f80); // rounds up to infinity
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(std::nanf("")))));
  for (uint32_t v = 0; v < 0x10000; v += 7) // widening is exact
    if ((v & 0x7f80) != 0x7f80)
      EXPECT_EQ(floatToBf16(bf16ToFloat(v)), v);
}

TEST(ElementType, HalfRoundsToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even (1) wins;
  // 1 + 3 * 2^-11 ties up to the even 1 + 2^-9.
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  EXPECT_EQ(floatToHalf(1.0f + 3 * 0x1p-11f), 0x3c02);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // ties up to infinity
  EXPECT_EQ(floatToHalf(-0x1p-24f), 0x8001); // the smallest subnormal
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);  // half of it: even (zero)
  EXPECT_EQ(floatToHalf(0x3p-25f), 0x0002);  // 1.5 ulps ties to even 2
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x03ff), 0x3ffp-24f); // the largest subnormal
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(std::nanf("")))));
  for (uint32_t v = 0; v < 0x10000; ++v) // widening is exact
    if ((v & 0x7c00) != 0x7c00)
      EXPECT_EQ(floatToHalf(halfToFloat(v)), v) << v;
}

/// A rank-2 strided descriptor as generated code builds it.
struct Descriptor2 {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};
struct Unranked {
  int64_t rank;
  void *descriptor;
};

TEST(ExecutableLoad, MemrefCopyFollowsStrides) {
  // Copies the transposed [3, 2] view of a row-major [2, 3] matrix, starting
  // one element in, into a contiguous [3, 2] buffer.
  std::vector<float> src = {0, 1, 2, 3, 4, 5, 6}, dst(6, -1);
  Descriptor2 s{src.data(), src.data(), 1, {3, 2}, {1, 3}};
  Descriptor2 d{dst.data(), dst.data(), 0, {3, 2}, {2, 1}};
  Unranked us{2, &s}, ud{2, &d};
  memrefCopy(sizeof(float), &us, &ud);
  EXPECT_EQ(dst, (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

} // namespace
