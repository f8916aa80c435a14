//===- executable_fuzzer.cpp - the .dsv3 loader on crafted executables ----===//
//
// Structure-aware: an input is an Executable message, framed here with a
// valid header and checksum so that every input reaches the loader's
// checks (the framing itself is checked by the unit tests). The custom
// mutator decodes a message, changes one field of a buffer, command or
// kernel signature (or a top-level size) to an interesting value and
// encodes it again; otherwise libFuzzer mutates the bytes.
//
//===----------------------------------------------------------------------===//

#include "executable.h"
#include "executable_format.h"

#include <cstdint>
#include <cstring>
#include <random>

using namespace dsv3::runtime;

namespace {

int64_t interesting(std::mt19937_64 &rng, int64_t old) {
  static const int64_t values[] = {0,
                                   1,
                                   -1,
                                   63,
                                   64,
                                   4096,
                                   INT32_MAX,
                                   INT64_MAX,
                                   INT64_MIN,
                                   (int64_t(1) << 62),
                                   (int64_t(1) << 63) - 64};
  switch (rng() % 3) {
  case 0:
    return values[rng() % (sizeof(values) / sizeof(values[0]))];
  // Wrapping arithmetic: the mutator itself must not overflow.
  case 1:
    return static_cast<int64_t>(static_cast<uint64_t>(old) + rng() % 129 - 64);
  default:
    return static_cast<int64_t>(static_cast<uint64_t>(old) * 2);
  }
}

void mutateMessage(Executable &exe, std::mt19937_64 &rng) {
  switch (rng() % 6) {
  case 0:
    if (exe.buffers_size()) {
      Buffer *b = exe.mutable_buffers(rng() % exe.buffers_size());
      switch (rng() % 5) {
      case 0:
        b->set_offset(interesting(rng, b->offset()));
        break;
      case 1:
        b->set_bytes(interesting(rng, b->bytes()));
        break;
      case 2:
        b->set_role(static_cast<Role>(rng() % 9));
        break;
      case 3:
        if (b->shape_size())
          b->set_shape(rng() % b->shape_size(),
                       interesting(rng, b->shape(0)));
        break;
      default:
        b->set_dtype(static_cast<ElementType>(rng() % 9));
      }
    }
    break;
  case 1:
    if (exe.commands_size()) {
      Command *c = exe.mutable_commands(rng() % exe.commands_size());
      int other = exe.buffers_size() ? rng() % exe.buffers_size() : 0;
      if (c->has_launch()) {
        Launch *l = c->mutable_launch();
        if (l->outputs_size() && rng() % 2)
          l->set_outputs(rng() % l->outputs_size(), other);
        else if (l->inputs_size())
          l->mutable_inputs()->RemoveLast();
      } else if (c->has_gemm()) {
        Gemm *g = c->mutable_gemm();
        g->set_m(interesting(rng, g->m()));
        if (rng() % 2)
          g->set_c(other);
      } else if (c->has_grouped_gemm()) {
        GroupedGemm *g = c->mutable_grouped_gemm();
        g->set_rows(interesting(rng, g->rows()));
      }
    }
    break;
  case 2:
    if (exe.kernels_size()) {
      KernelSignature *k = exe.mutable_kernels(rng() % exe.kernels_size());
      if (k->output_bytes_size())
        k->set_output_bytes(0, interesting(rng, k->output_bytes(0)));
    }
    break;
  case 3:
    exe.set_micro_batch(interesting(rng, exe.micro_batch()));
    break;
  case 4:
    exe.set_vocab_size(interesting(rng, exe.vocab_size()));
    break;
  default:
    exe.set_arena_bytes(interesting(rng, exe.arena_bytes()));
  }
}

} // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                          size_t maxSize, unsigned seed) {
  std::mt19937_64 rng(seed);
  Executable exe;
  if (rng() % 4 != 0 && exe.ParseFromArray(data, static_cast<int>(size))) {
    mutateMessage(exe, rng);
    std::string bytes = exe.SerializeAsString();
    if (bytes.size() <= maxSize) {
      std::memcpy(data, bytes.data(), bytes.size());
      return bytes.size();
    }
  }
  return LLVMFuzzerMutate(data, size, maxSize);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string payload(reinterpret_cast<const char *>(data), size);
  Expected<Executable> exe =
      parseExecutable(frameExecutable(payload), "fuzz.dsv3");
  if (exe)
    for (const Command &c : exe->commands())
      (void)commandName(*exe, c);
  return 0;
}
