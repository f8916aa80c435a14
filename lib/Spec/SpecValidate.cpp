//===- SpecValidate.cpp - consistency checks of a ModelSpec ---------------===//
//
// Every rule the forward builder relies on, checked up front so a bad
// description fails with "file:line: field: what is wrong" and never
// reaches the builder.
//
//===----------------------------------------------------------------------===//

#include "Spec/Spec.h"

#include "llvm/ADT/Twine.h"

#include <sstream>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// Shortest readable form of a double (6 significant digits).
std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

class Validator {
public:
  Validator(const LoadedSpec &loaded, llvm::raw_ostream &errs)
      : loaded(loaded), errs(errs) {}

  LogicalResult run();

private:
  void error(StringRef field, const Twine &message) {
    errs << loaded.locate(field) << ": " << message << "\n";
    failed = true;
  }
  std::string name(StringRef field) const { return loaded.fieldName(field); }

  /// `value` must be > 0 (`> min - 1` in general).
  /// Sizes are at most 2^31 - 1: tensor shapes, element counts and FLOPs
  /// are computed in 64 bits from them.
  void atLeast(StringRef field, int64_t value, int64_t min) {
    if (value < min)
      error(field, Twine(value) + " must be >= " + Twine(min));
    else if (value > kMaxSize)
      error(field, Twine(value) + " must be at most " + Twine(kMaxSize) +
                       " (2^31 - 1)");
  }
  static constexpr int64_t kMaxSize = (int64_t(1) << 31) - 1;
  void positive(StringRef field, double value) {
    if (!(value > 0))
      error(field, num(value) + " must be positive");
  }
  void nonNegative(StringRef field, double value) {
    if (!(value >= 0))
      error(field, num(value) + " must be >= 0");
  }
  void unitInterval(StringRef field, double value) {
    if (!(value >= 0 && value < 1))
      error(field, num(value) + " must be in [0, 1)");
  }

  void checkArchitecture();
  void checkAttention();
  void checkMoE();
  void checkTraining();
  void checkCompile();
  void checkSizes();

  const LoadedSpec &loaded;
  llvm::raw_ostream &errs;
  bool failed = false;
};

void Validator::checkArchitecture() {
  const spec::Architecture &a = loaded.spec.arch();
  atLeast("arch.vocab_size", a.vocab_size(), 1);
  atLeast("arch.hidden_size", a.hidden_size(), 1);
  atLeast("arch.num_layers", a.num_layers(), 1);
  atLeast("arch.num_heads", a.num_heads(), 1);
  positive("arch.rope_theta", a.rope_theta());
  positive("arch.rms_norm_eps", a.rms_norm_eps());
  if (a.first_k_dense() < 0 || a.first_k_dense() > a.num_layers())
    error("arch.first_k_dense", Twine(a.first_k_dense()) + " must be in [0, " +
                                    name("arch.num_layers") + " " +
                                    Twine(a.num_layers()) + "]");
  bool anyDense = a.first_k_dense() > 0 ||
                  loaded.spec.moe().num_routed_experts() == 0;
  if (anyDense && a.dense_intermediate_size() < 1)
    error("arch.dense_intermediate_size",
          Twine(a.dense_intermediate_size()) +
              " must be >= 1: the model has dense FFN layers");
  if (a.has_yarn()) {
    const spec::Yarn &y = a.yarn();
    if (!(y.factor() >= 1))
      error("arch.yarn.factor", num(y.factor()) + " must be >= 1");
    atLeast("arch.yarn.original_max_position", y.original_max_position(), 1);
    if (!(y.beta_fast() > y.beta_slow()))
      error("arch.yarn.beta_fast",
            num(y.beta_fast()) + " must exceed " +
                name("arch.yarn.beta_slow") + " " + num(y.beta_slow()));
  }
}

void Validator::checkAttention() {
  const spec::Architecture &a = loaded.spec.arch();
  const spec::Attention &t = a.attention();
  if (a.num_heads() < 1)
    return;
  if (t.kind() == spec::Attention::MHA) {
    if (t.head_dim() == 0 && a.hidden_size() % a.num_heads() != 0)
      error("arch.num_heads", Twine(a.num_heads()) + " does not divide " +
                                  name("arch.hidden_size") + " " +
                                  Twine(a.hidden_size()));
    atLeast("arch.attention.head_dim", t.head_dim(), 0);
    int64_t headDim = t.head_dim() ? t.head_dim()
                                   : a.hidden_size() / a.num_heads();
    if (headDim % 2 != 0)
      error("arch.attention.head_dim",
            "head width " + Twine(headDim) + " must be even for RoPE");
    int64_t kv = t.num_kv_heads();
    if (kv < 0 || (kv > 0 && a.num_heads() % kv != 0))
      error("arch.attention.num_kv_heads",
            Twine(kv) + " must divide " + name("arch.num_heads") + " " +
                Twine(a.num_heads()));
    return;
  }
  atLeast("arch.attention.q_lora_rank", t.q_lora_rank(), 0);
  atLeast("arch.attention.kv_lora_rank", t.kv_lora_rank(), 1);
  atLeast("arch.attention.qk_nope_head_dim", t.qk_nope_head_dim(), 1);
  atLeast("arch.attention.qk_rope_head_dim", t.qk_rope_head_dim(), 2);
  atLeast("arch.attention.v_head_dim", t.v_head_dim(), 1);
  if (t.qk_rope_head_dim() % 2 != 0)
    error("arch.attention.qk_rope_head_dim",
          Twine(t.qk_rope_head_dim()) + " must be even for RoPE");
}

void Validator::checkMoE() {
  const spec::MoE &m = loaded.spec.moe();
  int64_t e = m.num_routed_experts();
  atLeast("moe.num_routed_experts", e, 0);
  atLeast("moe.num_shared_experts", m.num_shared_experts(), 0);
  if (e < 1)
    return;
  atLeast("moe.intermediate_size", m.intermediate_size(), 1);
  bool topKValid = m.top_k() >= 1 && m.top_k() <= e;
  if (m.top_k() < 1)
    error("moe.top_k", Twine(m.top_k()) + " must be >= 1");
  else if (m.top_k() > e)
    error("moe.top_k", Twine(m.top_k()) + " exceeds " +
                           name("moe.num_routed_experts") + " " + Twine(e));
  if (m.n_group() < 1)
    error("moe.n_group", Twine(m.n_group()) + " must be >= 1");
  else if (e % m.n_group() != 0)
    error("moe.n_group", Twine(name("moe.num_routed_experts")) + " " +
                             Twine(e) + " is not divisible by " +
                             Twine(m.n_group()));
  else if (m.topk_group() < 1 || m.topk_group() > m.n_group())
    error("moe.topk_group", Twine(m.topk_group()) + " must be in [1, " +
                                name("moe.n_group") + " " +
                                Twine(m.n_group()) + "]");
  else if (topKValid && m.top_k() > m.topk_group() * (e / m.n_group()))
    error("moe.top_k", Twine(m.top_k()) + " exceeds the " +
                           Twine(m.topk_group() * (e / m.n_group())) +
                           " experts in the " + name("moe.topk_group") +
                           " groups kept");
  positive("moe.routed_scaling_factor", m.routed_scaling_factor());
  nonNegative("moe.bias_update_speed", m.bias_update_speed());
  nonNegative("moe.seq_aux_loss_alpha", m.seq_aux_loss_alpha());
  positive("moe.capacity_factor", m.capacity_factor());
}

void Validator::checkTraining() {
  const spec::Training &t = loaded.spec.training();
  atLeast("training.micro_batch", t.micro_batch(), 1);
  int64_t mtp = loaded.spec.mtp().depth();
  atLeast("mtp.depth", mtp, 0);
  nonNegative("mtp.loss_weight", loaded.spec.mtp().loss_weight());
  if (t.seq_len() < 1 + std::max<int64_t>(mtp, 0))
    error("training.seq_len",
          Twine(t.seq_len()) + " must be >= " + Twine(1 + std::max<int64_t>(mtp, 0)) +
              (mtp > 0 ? " (each MTP module shortens the sequence by one)" : ""));
  atLeast("training.grad_accum", t.grad_accum(), 1);
  positive("training.lr", t.lr());
  if (!(t.min_lr() >= 0 && t.min_lr() <= t.lr()))
    error("training.min_lr", num(t.min_lr()) + " must be in [0, " +
                                 name("training.lr") + " " + num(t.lr()) +
                                 "]");
  unitInterval("training.beta1", t.beta1());
  unitInterval("training.beta2", t.beta2());
  positive("training.eps", t.eps());
  nonNegative("training.weight_decay", t.weight_decay());
  atLeast("training.total_steps", t.total_steps(), 1);
  if (t.warmup_steps() < 0 || t.warmup_steps() > t.total_steps())
    error("training.warmup_steps",
          Twine(t.warmup_steps()) + " must be in [0, " +
              name("training.total_steps") + " " + Twine(t.total_steps()) +
              "]");
  nonNegative("training.clip_norm", t.clip_norm());
  positive("training.init_std", t.init_std());
}

void Validator::checkCompile() {
  const spec::Compile &c = loaded.spec.compile();
  if (c.sm() != 80 && c.sm() != 90 && c.sm() != 100)
    error("compile.sm", Twine(c.sm()) + " is not one of 80, 90, 100");
  atLeast("compile.dp", c.dp(), 1);
  atLeast("compile.ep", c.ep(), 1);
  int64_t e = loaded.spec.moe().num_routed_experts();
  if (c.ep() > 1 && (e < 1 || e % c.ep() != 0))
    error("compile.ep", Twine(c.ep()) + " does not divide " +
                            name("moe.num_routed_experts") + " " + Twine(e));
  if (c.zero() != 0 && c.zero() != 1)
    error("compile.zero", Twine(c.zero()) + " must be 0 or 1");
  // Bytes, not a fraction: 1 would read as the whole arena downstream.
  if (c.remat() == spec::Compile::BUDGET && c.remat_budget_bytes() < 2)
    error("compile.remat_budget_bytes",
          Twine(c.remat_budget_bytes()) +
              " must be at least 2 bytes with remat BUDGET (a fraction of "
              "the arena is --remat-budget's, not this field's)");
  nonNegative("compile.l1", c.l1());
  nonNegative("compile.srste", c.srste());
  atLeast("compile.sparse_refresh_steps", c.sparse_refresh_steps(), 1);
  if (!(c.prune_fraction() >= 0 && c.prune_fraction() < 1))
    error("compile.prune_fraction",
          num(c.prune_fraction()) + " must be in [0, 1)");
  if (c.prune_fraction() > 0 && !(c.prune_start_step() >= 0 &&
                                  c.prune_end_step() > c.prune_start_step()))
    error("compile.prune_end_step",
          Twine(c.prune_end_step()) + " must be after " +
              name("compile.prune_start_step") + " " +
              Twine(c.prune_start_step()) + " (and both >= 0)");
  if (!(c.loss_scale() >= 1 && c.loss_scale() <= 3e38))
    error("compile.loss_scale", num(c.loss_scale()) + " must be in [1, 3e38]");
  atLeast("compile.loss_scale_growth_interval",
          c.loss_scale_growth_interval(), 1);
  if (c.qat_activations() && !c.qat_int8())
    error("compile.qat_activations", "needs " + name("compile.qat_int8"));
  if (c.srste() > 0 && !c.sparse_weights_2_4())
    error("compile.srste", "needs " + name("compile.sparse_weights_2_4"));
  // What the compiler cannot do yet is refused when it compiles
  // (checkTrainPipelineOptions), not here: a description asking for it is
  // valid, and --summary or --emit=forward work on it.
}

void Validator::checkSizes() {
  // Each size is bounded; so must their products be: an upper bound on
  // the parameters and on one step's tokens, in 128 bits.
  const spec::ModelSpec &m = loaded.spec;
  const spec::Architecture &a = m.arch();
  const spec::Attention &t = a.attention();
  atLeast("training.seq_len", m.training().seq_len(), 1);
  atLeast("arch.dense_intermediate_size",
          std::max<int64_t>(a.dense_intermediate_size(), 0), 0);
  atLeast("moe.top_k", std::max<int64_t>(m.moe().top_k(), 0), 0);
  if (failed)
    return;
  using Wide = __int128;
  Wide hidden = a.hidden_size(), heads = a.num_heads();
  Wide headWidth = std::max<int64_t>(t.head_dim(), 0) + t.qk_nope_head_dim() +
                   t.qk_rope_head_dim() + t.v_head_dim() + 1;
  Wide attention = hidden * (t.q_lora_rank() + t.kv_lora_rank() + hidden) +
                   (t.q_lora_rank() + t.kv_lora_rank() + hidden) * heads *
                       headWidth * 3;
  Wide experts = m.moe().num_routed_experts() + m.moe().num_shared_experts();
  Wide ffn = 3 * hidden *
             (std::max<int64_t>(a.dense_intermediate_size(), 0) +
              experts * std::max<int64_t>(m.moe().intermediate_size(), 0));
  Wide params = 2 * Wide(a.vocab_size()) * hidden +
                (Wide(a.num_layers()) + m.mtp().depth()) * (attention + ffn);
  if (params >= (Wide(1) << 62))
    error("arch.hidden_size", "the model's sizes give more than 2^62 "
                              "parameters");
  Wide tokens = Wide(m.training().micro_batch()) * m.training().seq_len() *
                m.training().grad_accum();
  if (tokens > kMaxSize)
    error("training.micro_batch",
          "micro_batch x seq_len x grad_accum is more than 2^31 - 1 tokens "
          "per step");
}

LogicalResult Validator::run() {
  checkArchitecture();
  checkAttention();
  checkMoE();
  checkTraining();
  checkCompile();
  checkSizes();
  return failure(failed);
}

} // namespace

LogicalResult mlir::dsv3::validateModelSpec(const LoadedSpec &loaded,
                                            llvm::raw_ostream &errs) {
  return Validator(loaded, errs).run();
}
