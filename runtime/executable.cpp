//===- executable.cpp - loading and checking a .dsv3 executable -----------===//

#include "executable.h"

#include "executable_format.h"
#include "file_util.h"

#include <sstream>

namespace dsv3::runtime {

const char *elementTypeName(ElementType type) {
  switch (type) {
  case TYPE_F32:
    return "f32";
  case TYPE_I32:
    return "i32";
  case TYPE_I64:
    return "i64";
  case TYPE_BF16:
    return "bf16";
  case TYPE_F16:
    return "f16";
  case TYPE_I8:
    return "i8";
  case TYPE_F64:
    return "f64";
  default:
    return "unknown";
  }
}

const char *roleName(Role role) {
  switch (role) {
  case PARAM:
    return "param";
  case OPT_STATE:
    return "opt_state";
  case BATCH:
    return "batch";
  case STEP:
    return "step";
  case ACTIVATION:
    return "activation";
  case LOSS:
    return "loss";
  case METRIC:
    return "metric";
  default:
    return "unknown";
  }
}

const char *commandCategory(const Command &c) {
  switch (c.kind_case()) {
  case Command::kLaunch:
  case Command::kGpuLaunch:
    return "kernel";
  case Command::kGemm:
  case Command::kGroupedGemm:
    return "gemm";
  default:
    return "copy";
  }
}

std::string commandName(const Executable &exe, const Command &c) {
  auto type = [&](int id) -> std::string {
    return id >= 0 && id < exe.buffers_size()
               ? elementTypeName(exe.buffers(id).dtype())
               : "?";
  };
  switch (c.kind_case()) {
  case Command::kLaunch:
    return "launch " + c.launch().kernel();
  case Command::kGpuLaunch:
    return "gpu_launch " + c.gpu_launch().function();
  case Command::kGemm:
    return "gemm " + type(c.gemm().c()) + " " +
           std::to_string(c.gemm().batch()) + "x" +
           std::to_string(c.gemm().m()) + "x" + std::to_string(c.gemm().n()) +
           "x" + std::to_string(c.gemm().k());
  case Command::kGroupedGemm:
    return std::string(c.grouped_gemm().weight_grad() ? "grouped_gemm_wgrad "
                                                      : "grouped_gemm ") +
           type(c.grouped_gemm().y());
  case Command::kCopy:
    return "copy " + std::to_string(c.copy().src()) + " -> " +
           std::to_string(c.copy().dst());
  default:
    return "?";
  }
}

Expected<Executable> parseExecutable(const std::string &bytes,
                                     const std::string &path) {
  if (bytes.size() < kExecutableHeaderBytes ||
      std::memcmp(bytes.data(), kExecutableMagic, sizeof(kExecutableMagic)))
    return Status::error(path + ": not a dsv3 executable (no DSV3EXE1 "
                                "header; compile one with dsv3-compile "
                                "MODEL --target=cpu -o FILE.dsv3)");
  const auto *header = reinterpret_cast<const uint8_t *>(bytes.data());
  uint64_t size = getLE64(header + 8), hash = getLE64(header + 16);
  uint64_t have = bytes.size() - kExecutableHeaderBytes;
  if (size != have)
    return Status::error(path + ": truncated or padded executable: the "
                                "header says " +
                         std::to_string(size) + " bytes of payload, the file has " +
                         std::to_string(have));
  const char *payload = bytes.data() + kExecutableHeaderBytes;
  if (fnv1a64(payload, size) != hash)
    return Status::error(path + ": corrupted executable: the payload does "
                                "not match the checksum in its header");
  Executable exe;
  if (!exe.ParseFromArray(payload, static_cast<int>(size)))
    return Status::error(path + ": the executable does not parse");
  if (Status s = checkExecutable(exe, path); !s)
    return s;
  return exe;
}

Expected<Executable> loadExecutable(const std::string &path) {
  std::vector<uint8_t> bytes;
  if (Status s = readFile(path, bytes); !s)
    return s;
  return parseExecutable(std::string(bytes.begin(), bytes.end()), path);
}

Status checkExecutable(const Executable &exe, const std::string &path) {
  auto fail = [&](const std::string &what) {
    return Status::error(path + ": invalid executable: " + what);
  };
  if (exe.format_version() != 1)
    return fail("format version " + std::to_string(exe.format_version()) +
                ", this dsv3-run reads version 1");
  if (exe.arena_bytes() < 0)
    return fail("negative arena size");
  int n = exe.buffers_size();
  for (int i = 0; i < n; ++i) {
    const Buffer &b = exe.buffers(i);
    std::string which = "buffer " + std::to_string(i) +
                        (b.name().empty() ? "" : " (" + b.name() + ")");
    size_t eb = elementBytes(b.dtype());
    if (eb == 0)
      return fail(which + " has no element type");
    int64_t elements = 1;
    for (int64_t d : b.shape()) {
      if (d < 0)
        return fail(which + " has a negative dimension");
      elements *= d;
    }
    if (b.bytes() != elements * static_cast<int64_t>(eb))
      return fail(which + " is " + std::to_string(b.bytes()) +
                  " bytes, its shape needs " +
                  std::to_string(elements * eb));
    if (b.offset() < 0 || b.offset() + b.bytes() > exe.arena_bytes())
      return fail(which + " lies outside the arena");
    if (b.offset() % 64 != 0)
      return fail(which + " is not 64-byte aligned");
    // The trainer writes these itself: their type is part of the format.
    if (b.role() == STEP && (b.dtype() != TYPE_I64 || b.bytes() != 8))
      return fail(which + " is the step number but not an i64 scalar");
    if (b.role() == BATCH && b.dtype() != TYPE_I32)
      return fail(which + " is a batch input but not i32");
  }
  auto buffer = [&](int id, ElementType type, int64_t minBytes,
                    const std::string &what) -> Status {
    if (id < 0 || id >= n)
      return fail(what + " names buffer " + std::to_string(id) + " of " +
                  std::to_string(n));
    const Buffer &b = exe.buffers(id);
    if (type != ELEMENT_TYPE_UNSPECIFIED && b.dtype() != type)
      return fail(what + ": buffer " + std::to_string(id) + " is " +
                  elementTypeName(b.dtype()) + ", expected " +
                  elementTypeName(type));
    if (b.bytes() < minBytes)
      return fail(what + ": buffer " + std::to_string(id) + " holds " +
                  std::to_string(b.bytes()) + " bytes, needs " +
                  std::to_string(minBytes));
    return Status::ok();
  };
  auto gemmType = [&](int id, const std::string &what,
                      ElementType &type) -> Status {
    if (id < 0 || id >= n)
      return fail(what + " names buffer " + std::to_string(id) + " of " +
                  std::to_string(n));
    type = exe.buffers(id).dtype();
    if (type != TYPE_F32 && type != TYPE_BF16)
      return fail(what + ": a GEMM on " + elementTypeName(type) +
                  " (f32 and bf16 are supported)");
    return Status::ok();
  };
  for (int i = 0; i < exe.commands_size(); ++i) {
    const Command &c = exe.commands(i);
    std::string what = "command " + std::to_string(i);
    Status s;
    switch (c.kind_case()) {
    case Command::kLaunch:
      if (c.launch().kernel().empty())
        return fail(what + " launches no kernel");
      for (int id : c.launch().inputs())
        if (!(s = buffer(id, ELEMENT_TYPE_UNSPECIFIED, 0, what)))
          return s;
      for (int id : c.launch().outputs())
        if (!(s = buffer(id, ELEMENT_TYPE_UNSPECIFIED, 0, what)))
          return s;
      for (int id : c.launch().scratch())
        if (!(s = buffer(id, ELEMENT_TYPE_UNSPECIFIED, 0, what)))
          return s;
      break;
    case Command::kGemm: {
      const Gemm &g = c.gemm();
      if (g.batch() < 1 || g.m() < 1 || g.n() < 1 || g.k() < 1 ||
          g.stride_a() < 0 || g.stride_b() < 0 || g.stride_c() < 0)
        return fail(what + ": GEMM with a non-positive dimension");
      // The result's type is the GEMM's: f32, or bf16 (f32 accumulation).
      ElementType type;
      if (!(s = gemmType(g.c(), what, type)))
        return s;
      int64_t eb = elementBytes(type);
      auto need = [&](int64_t stride, int64_t rows, int64_t cols) {
        return ((g.batch() - 1) * stride + rows * cols) * eb;
      };
      if (!(s = buffer(g.a(), type, need(g.stride_a(), g.m(), g.k()), what)) ||
          !(s = buffer(g.b(), type, need(g.stride_b(), g.k(), g.n()), what)) ||
          !(s = buffer(g.c(), type, need(g.stride_c(), g.m(), g.n()), what)))
        return s;
      break;
    }
    case Command::kGroupedGemm: {
      const GroupedGemm &g = c.grouped_gemm();
      if (g.rows() < 0 || g.experts() < 1 || g.k() < 1 || g.n() < 1)
        return fail(what + ": grouped GEMM with a non-positive dimension");
      ElementType type;
      if (!(s = gemmType(g.y(), what, type)))
        return s;
      int64_t eb = elementBytes(type);
      int64_t xBytes = g.rows() * g.k() * eb;
      int64_t wBytes = g.weight_grad() ? g.rows() * g.n() * eb
                                       : g.experts() * g.k() * g.n() * eb;
      int64_t yBytes = g.weight_grad() ? g.experts() * g.k() * g.n() * eb
                                       : g.rows() * g.n() * eb;
      if (!(s = buffer(g.x(), type, xBytes, what)) ||
          !(s = buffer(g.w(), type, wBytes, what)) ||
          !(s = buffer(g.group_sizes(), TYPE_I32, g.experts() * 4, what)) ||
          !(s = buffer(g.y(), type, yBytes, what)))
        return s;
      break;
    }
    case Command::kGpuLaunch: {
      const GpuLaunch &l = c.gpu_launch();
      if (l.function().empty() || l.grid_size() != 3 || l.block_size() != 3)
        return fail(what + ": a GPU launch needs a function and 3-d sizes");
      for (int d = 0; d < 3; ++d)
        if (l.grid(d) < 1 || l.block(d) < 1)
          return fail(what + ": a GPU launch with an empty grid or block");
      for (const GpuArg &a : l.args())
        if (a.value_case() == GpuArg::kBuffer &&
            !(s = buffer(a.buffer(), ELEMENT_TYPE_UNSPECIFIED, 0, what)))
          return s;
      break;
    }
    case Command::kCopy:
      if (!(s = buffer(c.copy().src(), ELEMENT_TYPE_UNSPECIFIED, 0, what)) ||
          !(s = buffer(c.copy().dst(), ELEMENT_TYPE_UNSPECIFIED, 0, what)))
        return s;
      if (exe.buffers(c.copy().src()).bytes() !=
          exe.buffers(c.copy().dst()).bytes())
        return fail(what + " copies between buffers of different sizes");
      break;
    default:
      return fail(what + " has no kind");
    }
  }
  return Status::ok();
}

} // namespace dsv3::runtime
