//===- executable.cpp - loading and checking a .dsv3 executable -----------===//

#include "executable.h"

#include "cpu_attention.h"
#include "executable_format.h"
#include "file_util.h"

#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <vector>

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
  case TYPE_F8E4M3FN:
    return "f8E4M3FN";
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
  case Command::kAttention:
    return "attention";
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
  case Command::kAttention: {
    const Attention &a = c.attention();
    return std::string(a.backward() ? "attention_grad " : "attention ") +
           std::to_string(a.batch()) + "x" + std::to_string(a.seq()) + "x" +
           std::to_string(a.heads()) + "x" + std::to_string(a.dqk()) + "/" +
           std::to_string(a.dv()) + (a.causal() ? " causal" : "");
  }
  case Command::kCopy:
    return "copy " + std::to_string(c.copy().src()) + " -> " +
           std::to_string(c.copy().dst());
  default:
    return "?";
  }
}

namespace {

/// What libprotobuf says while a message parses (a string field that is
/// not UTF-8, say), kept for the error instead of printed to stderr.
class ProtobufLogCapture {
public:
  ProtobufLogCapture() : previous(google::protobuf::SetLogHandler(&keep)) {
    captured().clear();
  }
  ~ProtobufLogCapture() { google::protobuf::SetLogHandler(previous); }
  const std::string &text() const { return captured(); }

private:
  static std::string &captured() {
    static std::string text;
    return text;
  }
  static void keep(google::protobuf::LogLevel, const char *, int,
                   const std::string &message) {
    // The first complaint, its first sentence: the rest is advice to
    // protobuf's own users.
    if (!captured().empty())
      return;
    size_t end = message.find(". ");
    captured() = end == std::string::npos ? message : message.substr(0, end + 1);
  }
  google::protobuf::LogHandler *previous;
};

} // namespace

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
  if (size > static_cast<uint64_t>(std::numeric_limits<int>::max()))
    return Status::error(path + ": the executable's payload is " +
                         std::to_string(size) +
                         " bytes, more than protobuf reads (2 GiB)");
  Executable exe;
  ProtobufLogCapture log;
  if (!exe.ParseFromArray(payload, static_cast<int>(size)))
    return Status::error(path + ": the executable does not parse" +
                         (log.text().empty() ? "" : ": " + log.text()));
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

namespace {

/// The product of `factors`, or -1 when it overflows an int64 (the factors
/// are non-negative).
int64_t product(std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(p, f, &p))
      return -1;
  return p;
}

/// A byte count from product(), an overflow (-1) as more than any buffer
/// holds.
int64_t bytesOrMax(int64_t p) {
  return p < 0 ? std::numeric_limits<int64_t>::max() : p;
}

} // namespace

/// A scalar argument as "i64 7".
static std::string scalarString(const GpuArg &a) {
  std::ostringstream os;
  os.precision(17);
  switch (a.value_case()) {
  case GpuArg::kI64:
    os << "i64 " << a.i64();
    break;
  case GpuArg::kI32:
    os << "i32 " << a.i32();
    break;
  case GpuArg::kF32:
    os << "f32 " << a.f32();
    break;
  case GpuArg::kF64:
    os << "f64 " << a.f64();
    break;
  case GpuArg::kBuffer:
    os << "buffer " << a.buffer();
    break;
  case GpuArg::VALUE_NOT_SET:
    os << "no value";
    break;
  }
  return os.str();
}

/// A GPU launch exactly as its function was compiled: the same grid and
/// block, a buffer of the signature's bytes for each buffer parameter, the
/// signature's value for each scalar.
static Status checkGpuLaunch(const GpuLaunch &l, const GpuSignature &sig,
                             const Executable &exe,
                             const std::string &what) {
  auto fail = [&](const std::string &why) {
    return Status::error(what + " (" + l.function() + ") " + why);
  };
  auto dims = [](const auto &d) {
    std::string s;
    for (int i = 0; i < d.size(); ++i)
      s += (i ? "x" : "") + std::to_string(d[i]);
    return s;
  };
  if (dims(l.grid()) != dims(sig.grid()) || dims(l.block()) != dims(sig.block()))
    return fail("launches grid " + dims(l.grid()) + ", block " +
                dims(l.block()) + "; the function was compiled for grid " +
                dims(sig.grid()) + ", block " + dims(sig.block()));
  if (l.args_size() != sig.params_size())
    return fail("passes " + std::to_string(l.args_size()) +
                " arguments, the function takes " +
                std::to_string(sig.params_size()));
  for (int j = 0; j < l.args_size(); ++j) {
    const GpuArg &a = l.args(j);
    const GpuParam &p = sig.params(j);
    std::string arg = "argument " + std::to_string(j);
    if (p.kind_case() == GpuParam::kBufferBytes) {
      if (a.value_case() != GpuArg::kBuffer)
        return fail("passes a scalar as " + arg + ", the function takes a "
                    "buffer");
      if (a.buffer() < 0 || a.buffer() >= exe.buffers_size())
        return fail("names buffer " + std::to_string(a.buffer()) + " of " +
                    std::to_string(exe.buffers_size()));
      int64_t bytes = exe.buffers(a.buffer()).bytes();
      if (bytes != p.buffer_bytes())
        return fail("passes buffer " + std::to_string(a.buffer()) + " of " +
                    std::to_string(bytes) + " bytes as " + arg +
                    ", the function takes " +
                    std::to_string(p.buffer_bytes()));
      continue;
    }
    if (p.kind_case() != GpuParam::kScalar ||
        p.scalar().value_case() == GpuArg::kBuffer ||
        p.scalar().value_case() == GpuArg::VALUE_NOT_SET)
      return fail("has a signature whose parameter " + std::to_string(j) +
                  " is neither a buffer nor a scalar");
    if (a.value_case() == GpuArg::kBuffer)
      return fail("passes a buffer as " + arg + ", the function takes the "
                  "scalar " + scalarString(p.scalar()));
    // Scalars are compared as encoded: the same kind and the same bits.
    if (a.SerializeAsString() != p.scalar().SerializeAsString())
      return fail("passes " + scalarString(a) + " as " + arg +
                  ", the function was compiled for " +
                  scalarString(p.scalar()));
  }
  return Status::ok();
}

Status checkExecutable(const Executable &exe, const std::string &path) {
  auto fail = [&](const std::string &what) {
    return Status::error(path + ": invalid executable: " + what);
  };
  if (exe.format_version() != kExecutableFormatVersion)
    return fail("format version " + std::to_string(exe.format_version()) +
                ", this dsv3-run reads version " +
                std::to_string(kExecutableFormatVersion) +
                " (recompile the model with this dsv3-compile)");
  if (exe.target() != "cpu" && exe.target() != "cuda")
    return fail("target '" + exe.target() + "' (cpu or cuda)");
  if (exe.arena_bytes() < 0)
    return fail("negative arena size");
  if (exe.peak_live_bytes() < 0 || exe.peak_live_bytes() > exe.arena_bytes())
    return fail("peak live bytes " + std::to_string(exe.peak_live_bytes()) +
                " outside [0, the arena's " +
                std::to_string(exe.arena_bytes()) + "]");
  if (exe.total_steps() < 0)
    return fail("negative total_steps " + std::to_string(exe.total_steps()));
  if (exe.commands_size() == 0)
    return fail("no commands");
  // The batch the loader packs: [micro_batch, seq_len] i32 per field.
  int64_t batchBytes = 0;
  if (exe.micro_batch() < 1 || exe.seq_len() < 1 || exe.vocab_size() < 1 ||
      __builtin_mul_overflow(exe.micro_batch(), exe.seq_len(), &batchBytes) ||
      __builtin_mul_overflow(batchBytes, int64_t(4), &batchBytes) ||
      batchBytes > exe.arena_bytes())
    return fail("batch " + std::to_string(exe.micro_batch()) + " x " +
                std::to_string(exe.seq_len()) + " with vocabulary " +
                std::to_string(exe.vocab_size()) +
                ": each must be positive and the batch must fit the arena");
  int n = exe.buffers_size();
  int losses = 0, steps = 0;
  std::vector<std::string> batchFields;
  for (int i = 0; i < n; ++i) {
    const Buffer &b = exe.buffers(i);
    std::string which = "buffer " + std::to_string(i) +
                        (b.name().empty() ? "" : " (" + b.name() + ")");
    size_t eb = elementBytes(b.dtype());
    if (eb == 0)
      return fail(which + " has no element type");
    if (!Role_IsValid(b.role()) || b.role() == ROLE_UNSPECIFIED)
      return fail(which + " has no known role (" + std::to_string(b.role()) +
                  ")");
    if (b.dtype() == TYPE_F8E4M3FN && b.role() != ACTIVATION)
      return fail(which + " is a " + roleName(b.role()) +
                  " in f8E4M3FN; only a step's temporaries may be fp8");
    int64_t elements = 1;
    for (int64_t d : b.shape()) {
      if (d < 0)
        return fail(which + " has a negative dimension");
      if (__builtin_mul_overflow(elements, d, &elements))
        return fail(which + " has more elements than an int64 counts");
    }
    int64_t needed;
    bool overflows =
        __builtin_mul_overflow(elements, static_cast<int64_t>(eb), &needed);
    if (overflows || b.bytes() != needed)
      return fail(which + " is " + std::to_string(b.bytes()) +
                  " bytes, its shape needs " +
                  (overflows ? std::string("more than an int64 counts")
                             : std::to_string(needed)));
    // Written so that it cannot overflow: offset + bytes <= arena.
    if (b.offset() < 0 || b.offset() > exe.arena_bytes() ||
        b.bytes() > exe.arena_bytes() - b.offset())
      return fail(which + " lies outside the arena");
    if (b.offset() % 64 != 0)
      return fail(which + " is not 64-byte aligned");
    // The trainer writes these itself: their type is part of the format.
    if (b.role() == STEP && (b.dtype() != TYPE_I64 || b.bytes() != 8))
      return fail(which + " is the step number but not an i64 scalar");
    if (b.role() == BATCH && b.dtype() != TYPE_I32)
      return fail(which + " is a batch input but not i32");
    if (b.role() == LOSS && (b.dtype() != TYPE_F32 || b.bytes() != 4))
      return fail(which + " is the loss but not an f32 scalar");
    steps += b.role() == STEP;
    losses += b.role() == LOSS;
    if (b.role() == BATCH) {
      static const char *const kFields[] = {"tokens", "targets", "positions",
                                            "segment_ids"};
      if (std::find(std::begin(kFields), std::end(kFields), b.batch_field()) ==
          std::end(kFields))
        return fail(which + " is batch field '" + b.batch_field() +
                    "' (tokens, targets, positions or segment_ids)");
      if (std::find(batchFields.begin(), batchFields.end(), b.batch_field()) !=
          batchFields.end())
        return fail(which + " is batch field '" + b.batch_field() +
                    "' a second time");
      batchFields.push_back(b.batch_field());
      if (b.shape_size() != 2 || b.shape(0) != exe.micro_batch() ||
          b.shape(1) != exe.seq_len())
        return fail(which + " is not the [" +
                    std::to_string(exe.micro_batch()) + ", " +
                    std::to_string(exe.seq_len()) + "] batch");
    }
    if (b.role() == PARAM || b.role() == OPT_STATE) {
      const std::string &kind = b.init().kind();
      if (kind != "normal" && kind != "zeros" && kind != "ones" &&
          kind != "constant")
        return fail(which + " has initializer '" + kind +
                    "' (normal, zeros, ones or constant)");
      if (kind == "constant" &&
          (!std::isfinite(b.init().value()) || !isFloatType(b.dtype())))
        return fail(which + " has a constant initializer of " +
                    std::to_string(b.init().value()) +
                    " (a finite value, for a float buffer)");
      if (kind == "normal" && !(b.init().std() >= 0 && b.init().std() < 1e6))
        return fail(which + " has a normal initializer with std " +
                    std::to_string(b.init().std()));
    }
    if (!b.quantized().empty() &&
        (b.quantized() != "int8" || b.role() != PARAM ||
         b.dtype() != TYPE_F32 || b.shape_size() < 2))
      return fail(which + " is quantized '" + b.quantized() +
                  "' (only an f32 matrix parameter can be, and only int8)");
    // The token embedding is indexed by the tokens the loader admits.
    static const std::string kEmbedding = "embed_tokens.weight";
    if (b.role() == PARAM && b.name().size() >= kEmbedding.size() &&
        b.name().compare(b.name().size() - kEmbedding.size(),
                         kEmbedding.size(), kEmbedding) == 0 &&
        (b.shape_size() != 2 || b.shape(0) < exe.vocab_size()))
      return fail(which + " has fewer rows than the vocabulary (" +
                  std::to_string(exe.vocab_size()) + ")");
  }
  if (losses != 1 || steps != 1)
    return fail(std::to_string(losses) + " loss and " + std::to_string(steps) +
                " step buffers; an executable has one of each");
  // State that lives across steps never shares bytes with other state.
  {
    std::vector<std::pair<int64_t, int>> persistent;
    for (int i = 0; i < n; ++i) {
      Role role = exe.buffers(i).role();
      if (role != ACTIVATION && exe.buffers(i).bytes() > 0)
        persistent.emplace_back(exe.buffers(i).offset(), i);
    }
    std::sort(persistent.begin(), persistent.end());
    for (size_t k = 1; k < persistent.size(); ++k) {
      const Buffer &prev = exe.buffers(persistent[k - 1].second);
      if (prev.offset() + prev.bytes() > persistent[k].first)
        return fail("buffers " + std::to_string(persistent[k - 1].second) +
                    " and " + std::to_string(persistent[k].second) +
                    " (both kept across steps) overlap in the arena");
    }
  }
  std::map<std::string, const KernelSignature *> signatures;
  for (const KernelSignature &k : exe.kernels())
    if (!signatures.emplace(k.kernel(), &k).second)
      return fail("kernel " + k.kernel() + " has two signatures");
  std::map<std::string, const GpuSignature *> gpuSignatures;
  for (const GpuSignature &g : exe.gpu_functions())
    if (!gpuSignatures.emplace(g.function(), &g).second)
      return fail("GPU function " + g.function() + " has two signatures");
  auto overlap = [&](int x, int y) {
    const Buffer &a = exe.buffers(x), &b = exe.buffers(y);
    return a.offset() < b.offset() + b.bytes() &&
           b.offset() < a.offset() + a.bytes();
  };
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
    if (type != TYPE_F32 && type != TYPE_BF16 && type != TYPE_F16)
      return fail(what + ": a GEMM on " + elementTypeName(type) +
                  " (f32, bf16 and f16 are supported)");
    return Status::ok();
  };
  for (int i = 0; i < exe.commands_size(); ++i) {
    const Command &c = exe.commands(i);
    std::string what = "command " + std::to_string(i);
    Status s;
    switch (c.kind_case()) {
    case Command::kLaunch: {
      const Launch &l = c.launch();
      if (exe.target() != "cpu")
        return fail(what + " is a cpu kernel launch in a " + exe.target() +
                    " executable");
      if (l.kernel().empty())
        return fail(what + " launches no kernel");
      auto sig = signatures.find(l.kernel());
      if (sig == signatures.end())
        return fail(what + " launches " + l.kernel() +
                    ", which has no signature");
      // Every buffer exactly as large as the kernel's code takes it.
      auto args = [&](const auto &ids, const auto &bytes,
                      const char *kind) -> Status {
        if (ids.size() != bytes.size())
          return fail(what + " (" + l.kernel() + ") passes " +
                      std::to_string(ids.size()) + " " + kind +
                      ", the kernel takes " + std::to_string(bytes.size()));
        for (int j = 0; j < ids.size(); ++j) {
          if (Status st = buffer(ids[j], ELEMENT_TYPE_UNSPECIFIED, 0, what);
              !st)
            return st;
          if (exe.buffers(ids[j]).bytes() != bytes[j])
            return fail(what + " (" + l.kernel() + ") passes buffer " +
                        std::to_string(ids[j]) + " of " +
                        std::to_string(exe.buffers(ids[j]).bytes()) +
                        " bytes as " + kind + " " + std::to_string(j) +
                        ", the kernel takes " + std::to_string(bytes[j]));
        }
        return Status::ok();
      };
      if (!(s = args(l.inputs(), sig->second->input_bytes(), "inputs")) ||
          !(s = args(l.outputs(), sig->second->output_bytes(), "outputs")) ||
          !(s = args(l.scratch(), sig->second->scratch_bytes(), "scratch")))
        return s;
      break;
    }
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
        int64_t before = product({g.batch() - 1, stride});
        int64_t one = product({rows, cols});
        int64_t total;
        if (before < 0 || one < 0 || __builtin_add_overflow(before, one, &total))
          return std::numeric_limits<int64_t>::max();
        total = product({total, eb});
        return total < 0 ? std::numeric_limits<int64_t>::max() : total;
      };
      if (!(s = buffer(g.a(), type, need(g.stride_a(), g.m(), g.k()), what)) ||
          !(s = buffer(g.b(), type, need(g.stride_b(), g.k(), g.n()), what)) ||
          !(s = buffer(g.c(), type, need(g.stride_c(), g.m(), g.n()), what)))
        return s;
      if (overlap(g.c(), g.a()) || overlap(g.c(), g.b()))
        return fail(what + ": the GEMM's result overlaps an operand");
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
      int64_t xBytes = bytesOrMax(product({g.rows(), g.k(), eb}));
      int64_t rowsN = bytesOrMax(product({g.rows(), g.n(), eb}));
      int64_t weights = bytesOrMax(product({g.experts(), g.k(), g.n(), eb}));
      int64_t wBytes = g.weight_grad() ? rowsN : weights;
      int64_t yBytes = g.weight_grad() ? weights : rowsN;
      if (!(s = buffer(g.x(), type, xBytes, what)) ||
          !(s = buffer(g.w(), type, wBytes, what)) ||
          !(s = buffer(g.group_sizes(), TYPE_I32,
                       bytesOrMax(product({g.experts(), 4})), what)) ||
          !(s = buffer(g.y(), type, yBytes, what)))
        return s;
      break;
    }
    case Command::kGpuLaunch: {
      const GpuLaunch &l = c.gpu_launch();
      if (exe.target() != "cuda")
        return fail(what + " is a GPU launch in a " + exe.target() +
                    " executable");
      if (l.function().empty() || l.grid_size() != 3 || l.block_size() != 3)
        return fail(what + ": a GPU launch needs a function and 3-d sizes");
      for (int d = 0; d < 3; ++d)
        if (l.grid(d) < 1 || l.block(d) < 1)
          return fail(what + ": a GPU launch with an empty grid or block");
      auto sig = gpuSignatures.find(l.function());
      if (sig == gpuSignatures.end())
        return fail(what + " launches " + l.function() +
                    ", which has no signature");
      if (s = checkGpuLaunch(l, *sig->second, exe, what); !s)
        return fail(s.message());
      break;
    }
    case Command::kAttention: {
      const Attention &a = c.attention();
      if (exe.target() != "cpu")
        return fail(what + " is an attention command in a " + exe.target() +
                    " executable");
      if (a.batch() < 1 || a.seq() < 1 || a.heads() < 1 || a.kv_heads() < 1 ||
          a.dqk() < 1 || a.dv() < 1 || a.heads() % a.kv_heads() != 0)
        return fail(what + ": attention with a non-positive dimension, or "
                           "heads not a multiple of the key/value heads");
      if (!(a.scale() > 0) || !std::isfinite(a.scale()))
        return fail(what + ": attention's scale is not positive and finite");
      // The BLAS takes 32-bit sizes and leading dimensions (the key/value
      // heads' are no larger: heads is a multiple of them); each thread
      // keeps two blocks of a block's scores against every key.
      auto blasInt = [](int64_t n) {
        return n >= 0 && n <= std::numeric_limits<int32_t>::max();
      };
      if (!blasInt(a.seq()) || !blasInt(product({a.heads(), a.dqk()})) ||
          !blasInt(product({a.heads(), a.dv()})))
        return fail(what + ": attention's sizes exceed the BLAS's 32-bit ints");
      if (product({2, attentionQueryBlock(a.seq()), a.seq(), 4}) >
          (int64_t(1) << 30))
        return fail(what + ": attention over " + std::to_string(a.seq()) +
                    " positions needs more than 1 GiB of scores per thread");
      // Each buffer exactly its tensor's size: the command reads and
      // writes all of it.
      auto exact = [&](int id, ElementType type, int64_t want) -> Status {
        if (Status st = buffer(id, type, want, what); !st)
          return st;
        if (exe.buffers(id).bytes() != want)
          return fail(what + ": attention's buffer " + std::to_string(id) +
                      " holds " + std::to_string(exe.buffers(id).bytes()) +
                      " bytes, its tensor " + std::to_string(want));
        return Status::ok();
      };
      auto f32Bytes = [&](int64_t heads, int64_t dim) {
        return bytesOrMax(product({a.batch(), a.seq(), heads, dim, 4}));
      };
      int64_t q = f32Bytes(a.heads(), a.dqk());
      int64_t k = f32Bytes(a.kv_heads(), a.dqk());
      int64_t v = f32Bytes(a.kv_heads(), a.dv());
      int64_t o = f32Bytes(a.heads(), a.dv());
      if (!(s = exact(a.query(), TYPE_F32, q)) ||
          !(s = exact(a.key(), TYPE_F32, k)) ||
          !(s = exact(a.value(), TYPE_F32, v)))
        return s;
      if (a.has_segments()) {
        if (Status st = buffer(a.segments(), ELEMENT_TYPE_UNSPECIFIED, 0, what);
            !st)
          return st;
        ElementType ids = exe.buffers(a.segments()).dtype();
        if (ids != TYPE_I32 && ids != TYPE_I64)
          return fail(what + ": attention's segment ids are " +
                      elementTypeName(ids) + ", expected i32 or i64");
        int64_t idBytes = elementBytes(ids);
        if (!(s = exact(a.segments(), ids,
                        bytesOrMax(product({a.batch(), a.seq(), idBytes})))))
          return s;
      }
      std::vector<int> results;
      if (a.backward()) {
        if (!(s = exact(a.d_output(), TYPE_F32, o)) ||
            !(s = exact(a.d_query(), TYPE_F32, q)) ||
            !(s = exact(a.d_key(), TYPE_F32, k)) ||
            !(s = exact(a.d_value(), TYPE_F32, v)))
          return s;
        results = {a.d_query(), a.d_key(), a.d_value()};
      } else {
        if (!(s = exact(a.output(), TYPE_F32, o)))
          return s;
        results = {a.output()};
      }
      // Results are written while the operands are read: none may share
      // bytes with an operand or with each other.
      std::vector<int> operands = {a.query(), a.key(), a.value()};
      if (a.backward())
        operands.push_back(a.d_output());
      if (a.has_segments())
        operands.push_back(a.segments());
      for (size_t r = 0; r < results.size(); ++r) {
        for (int operand : operands)
          if (overlap(results[r], operand))
            return fail(what + ": attention's result overlaps an operand");
        for (size_t r2 = r + 1; r2 < results.size(); ++r2)
          if (overlap(results[r], results[r2]))
            return fail(what + ": attention's results overlap");
      }
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
