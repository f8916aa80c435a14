//===- ForwardBuilder.cpp - ModelSpec -> dsv3 forward graph ---------------===//
//
// Builds @forward(params..., tokens, targets, positions, segment_ids) ->
// loss for a validated ModelSpec: embedding; per layer RMSNorm, MHA or MLA
// attention, residual, RMSNorm, dense SwiGLU or MoE (router, dispatch,
// grouped SwiGLU experts, combine, shared experts), residual; final norm,
// head, cross entropy; plus the sequence balance loss and the MTP modules
// when configured. Weights are stored as Hugging Face DeepSeek stores them
// ([out, in]), so every projection is a matmul with transpose_rhs.
//
//===----------------------------------------------------------------------===//

#include "Spec/Spec.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// DeepSeek's YaRN attention-scale correction: 0.1 * m * ln(factor) + 1.
double yarnMscale(double factor, double m) {
  return factor <= 1.0 ? 1.0 : 0.1 * m * std::log(factor) + 1.0;
}

class ForwardBuilder {
public:
  ForwardBuilder(const spec::ModelSpec &spec, MLIRContext *context,
                 Type floatType)
      : spec(spec), arch(spec.arch()), moe(spec.moe()),
        b(UnknownLoc::get(context), context),
        floatType(floatType ? floatType : Float32Type::get(context)) {
    batch = spec.training().micro_batch();
    seq = spec.training().seq_len();
    hidden = arch.hidden_size();
  }

  OwningOpRef<ModuleOp> build();

private:
  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, floatType);
  }
  RankedTensorType i32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getI32Type());
  }
  void at(StringRef scope) { b.setLoc(NameLoc::get(b.getStringAttr(scope))); }

  /// A parameter argument named as Hugging Face names it; a `normal`
  /// initializer takes its std from the training knobs.
  Value param(const Twine &name, ArrayRef<int64_t> shape, InitKind init,
              bool trainable = true);
  /// A batch input ([batch, seq] i32), appended after the parameters.
  Value batchInput(BatchField field);

  Value reshape(Value x, ArrayRef<int64_t> shape) {
    return ReshapeOp::create(b, f32(shape), x);
  }
  Value linear(Value x, Value w) {
    return MatmulOp::create(b, x, w, /*transpose_lhs=*/false,
                            /*transpose_rhs=*/true);
  }
  /// One GEMM per expert over consecutive row groups; `w` is
  /// [experts, out, in].
  Value groupedLinear(Value rows, Value w, Value sizes) {
    return GroupedMatmulOp::create(b, rows, w, sizes,
                                   /*transpose_weight=*/true);
  }
  Value norm(Value x, Value w) {
    return RmsNormOp::create(b, x, w, llvm::APFloat(arch.rms_norm_eps()));
  }
  /// MLA's norms of the compressed query and key/value take a fixed eps of
  /// 1e-6, whatever rms_norm_eps says (DeepSeek's and transformers' code).
  Value latentNorm(Value x, Value w) {
    return RmsNormOp::create(b, x, w, llvm::APFloat(1e-6));
  }
  Value add(Value x, Value y) { return AddOp::create(b, x, y); }
  /// Keeps [:, from:from+len] of a [batch, seq, ...] tensor.
  Value sliceSeq(Value x, int64_t from, int64_t len);
  Value rope(Value x, Value positions, bool interleaved);
  /// SwiGLU: down(silu(gate(x)) * up(x)).
  Value swiglu(Value x, Value gate, Value up, Value down) {
    Value g = SiluOp::create(b, linear(x, gate));
    return linear(MulOp::create(b, g, linear(x, up)), down);
  }

  Value attention(Value x, const std::string &prefix, Value positions,
                  Value segments, int64_t len);
  Value mlaAttention(Value x, const std::string &prefix, Value positions,
                     Value segments, int64_t len);
  Value mhaAttention(Value x, const std::string &prefix, Value positions,
                     Value segments, int64_t len);
  Value denseFfn(Value x2d, const std::string &prefix);
  Value moeFfn(Value x2d, const std::string &prefix, int64_t len);
  /// One transformer layer over a [batch, len, hidden] residual stream.
  Value layer(Value h, int64_t index, Value positions, Value segments,
              int64_t len);
  Value crossEntropy(Value h, Value targets, int64_t len);

  const spec::ModelSpec &spec;
  const spec::Architecture &arch;
  const spec::MoE &moe;
  ImplicitLocOpBuilder b;
  Type floatType;
  int64_t batch, seq, hidden;
  Block *entry = nullptr;
  unsigned numParams = 0;
  SmallVector<DictionaryAttr> argAttrs;
  Value embedTable, headWeight;
  /// Sequence balance losses of every MoE layer, summed into the loss.
  SmallVector<Value> auxLosses;
};

Value ForwardBuilder::param(const Twine &name, ArrayRef<int64_t> shape,
                            InitKind init, bool trainable) {
  Value arg = entry->insertArgument(numParams, f32(shape), b.getLoc());
  SmallVector<NamedAttribute> attrs = {getNameAttr(b, name.str()),
                                       getInitAttr(b, init)};
  if (init == InitKind::normal)
    attrs.push_back(b.getNamedAttr(
        kInitStdAttr, b.getF64FloatAttr(spec.training().init_std())));
  if (!trainable)
    attrs.push_back(b.getNamedAttr(kTrainableAttr, b.getBoolAttr(false)));
  argAttrs.insert(argAttrs.begin() + numParams, b.getDictionaryAttr(attrs));
  ++numParams;
  return arg;
}

Value ForwardBuilder::batchInput(BatchField field) {
  Value arg = entry->addArgument(i32({batch, seq}), b.getLoc());
  argAttrs.push_back(b.getDictionaryAttr({getBatchAttr(b, field)}));
  return arg;
}

Value ForwardBuilder::sliceSeq(Value x, int64_t from, int64_t len) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> start(type.getRank(), 0), limit(type.getShape());
  start[1] = from;
  limit[1] = from + len;
  return SliceOp::create(b, x, start, limit, /*strides=*/nullptr);
}

Value ForwardBuilder::rope(Value x, Value positions, bool interleaved) {
  double factor = 1.0, mscale = 1.0, mscaleAll = 0.0, fast = 32.0, slow = 1.0;
  int64_t original = 0;
  if (arch.has_yarn() && arch.yarn().factor() > 1.0) {
    const spec::Yarn &y = arch.yarn();
    factor = y.factor();
    original = y.original_max_position();
    fast = y.beta_fast();
    slow = y.beta_slow();
    mscale = y.mscale();
    mscaleAll = y.mscale_all_dim();
  }
  return RopeOp::create(b, x, positions, llvm::APFloat(arch.rope_theta()),
                        interleaved, /*inverse=*/false, llvm::APFloat(factor),
                        original,
                        llvm::APFloat(fast), llvm::APFloat(slow),
                        llvm::APFloat(mscale), llvm::APFloat(mscaleAll));
}

Value ForwardBuilder::attention(Value x, const std::string &prefix,
                                Value positions, Value segments, int64_t len) {
  if (arch.attention().kind() == spec::Attention::MLA)
    return mlaAttention(x, prefix, positions, segments, len);
  return mhaAttention(x, prefix, positions, segments, len);
}

Value ForwardBuilder::mhaAttention(Value x, const std::string &prefix,
                                   Value positions, Value segments,
                                   int64_t len) {
  const spec::Attention &a = arch.attention();
  int64_t heads = arch.num_heads();
  int64_t kvHeads = a.num_kv_heads() ? a.num_kv_heads() : heads;
  int64_t dim = a.head_dim() ? a.head_dim() : hidden / heads;
  std::string p = prefix + "self_attn.";
  Value wq = param(p + "q_proj.weight", {heads * dim, hidden}, InitKind::normal);
  Value wk = param(p + "k_proj.weight", {kvHeads * dim, hidden}, InitKind::normal);
  Value wv = param(p + "v_proj.weight", {kvHeads * dim, hidden}, InitKind::normal);
  Value wo = param(p + "o_proj.weight", {hidden, heads * dim}, InitKind::normal);
  Value q = reshape(linear(x, wq), {batch, len, heads, dim});
  Value k = reshape(linear(x, wk), {batch, len, kvHeads, dim});
  Value v = reshape(linear(x, wv), {batch, len, kvHeads, dim});
  q = rope(q, positions, /*interleaved=*/false);
  k = rope(k, positions, /*interleaved=*/false);
  double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  Value o = AttentionOp::create(b, q, k, v, segments, /*causal=*/true,
                                llvm::APFloat(scale));
  return linear(reshape(o, {batch, len, heads * dim}), wo);
}

Value ForwardBuilder::mlaAttention(Value x, const std::string &prefix,
                                   Value positions, Value segments,
                                   int64_t len) {
  const spec::Attention &a = arch.attention();
  int64_t heads = arch.num_heads(), nope = a.qk_nope_head_dim(),
          ropeDim = a.qk_rope_head_dim(), vDim = a.v_head_dim(),
          kvRank = a.kv_lora_rank(), qRank = a.q_lora_rank();
  int64_t qkDim = nope + ropeDim;
  std::string p = prefix + "self_attn.";

  // Queries: a full projection, or down-projection, norm, up-projection.
  Value q;
  if (qRank > 0) {
    Value qa = param(p + "q_a_proj.weight", {qRank, hidden}, InitKind::normal);
    Value qNorm = param(p + "q_a_layernorm.weight", {qRank}, InitKind::ones);
    Value qb = param(p + "q_b_proj.weight", {heads * qkDim, qRank}, InitKind::normal);
    q = linear(latentNorm(linear(x, qa), qNorm), qb);
  } else {
    Value wq = param(p + "q_proj.weight", {heads * qkDim, hidden}, InitKind::normal);
    q = linear(x, wq);
  }
  q = reshape(q, {batch, len, heads, qkDim});
  Value qNope = SliceOp::create(b, q, ArrayRef<int64_t>{0, 0, 0, 0},
                                ArrayRef<int64_t>{batch, len, heads, nope},
                                nullptr);
  Value qPe = SliceOp::create(b, q, ArrayRef<int64_t>{0, 0, 0, nope},
                              ArrayRef<int64_t>{batch, len, heads, qkDim},
                              nullptr);

  // Keys and values from one compressed latent plus a shared rotary key.
  Value kva = param(p + "kv_a_proj_with_mqa.weight", {kvRank + ropeDim, hidden},
                    InitKind::normal);
  Value kvNorm = param(p + "kv_a_layernorm.weight", {kvRank}, InitKind::ones);
  Value kvb = param(p + "kv_b_proj.weight", {heads * (nope + vDim), kvRank},
                    InitKind::normal);
  Value wo = param(p + "o_proj.weight", {hidden, heads * vDim}, InitKind::normal);
  Value latent = linear(x, kva); // [batch, len, kvRank + ropeDim]
  Value compressed =
      SliceOp::create(b, latent, ArrayRef<int64_t>{0, 0, 0},
                      ArrayRef<int64_t>{batch, len, kvRank}, nullptr);
  Value kPe = SliceOp::create(b, latent, ArrayRef<int64_t>{0, 0, kvRank},
                              ArrayRef<int64_t>{batch, len, kvRank + ropeDim},
                              nullptr);
  Value kv = reshape(linear(latentNorm(compressed, kvNorm), kvb),
                     {batch, len, heads, nope + vDim});
  Value kNope = SliceOp::create(b, kv, ArrayRef<int64_t>{0, 0, 0, 0},
                                ArrayRef<int64_t>{batch, len, heads, nope},
                                nullptr);
  Value value = SliceOp::create(b, kv, ArrayRef<int64_t>{0, 0, 0, nope},
                                ArrayRef<int64_t>{batch, len, heads, nope + vDim},
                                nullptr);

  // DeepSeek rotates interleaved pairs of the decoupled rotary parts.
  qPe = rope(qPe, positions, /*interleaved=*/true);
  kPe = rope(reshape(kPe, {batch, len, 1, ropeDim}), positions,
             /*interleaved=*/true);
  Value kPeAll = BroadcastOp::create(b, f32({batch, len, heads, ropeDim}), kPe,
                                     ArrayRef<int64_t>{0, 1, 2, 3});
  Value query = ConcatOp::create(b, ValueRange{qNope, qPe}, 3);
  Value key = ConcatOp::create(b, ValueRange{kNope, kPeAll}, 3);

  double scale = 1.0 / std::sqrt(static_cast<double>(qkDim));
  if (arch.has_yarn() && arch.yarn().mscale_all_dim() != 0.0) {
    double m = yarnMscale(arch.yarn().factor(), arch.yarn().mscale_all_dim());
    scale *= m * m;
  }
  Value o = AttentionOp::create(b, query, key, value, segments,
                                /*causal=*/true, llvm::APFloat(scale));
  return linear(reshape(o, {batch, len, heads * vDim}), wo);
}

Value ForwardBuilder::denseFfn(Value x2d, const std::string &prefix) {
  int64_t width = arch.dense_intermediate_size();
  std::string p = prefix + "mlp.";
  Value gate = param(p + "gate_proj.weight", {width, hidden}, InitKind::normal);
  Value up = param(p + "up_proj.weight", {width, hidden}, InitKind::normal);
  Value down = param(p + "down_proj.weight", {hidden, width}, InitKind::normal);
  return swiglu(x2d, gate, up, down);
}

Value ForwardBuilder::moeFfn(Value x2d, const std::string &prefix,
                             int64_t len) {
  int64_t experts = moe.num_routed_experts(), width = moe.intermediate_size(),
          k = moe.top_k(), tokens = batch * len;
  std::string p = prefix + "mlp.";
  Value gateW = param(p + "gate.weight", {experts, hidden}, InitKind::normal);
  Value bias;
  if (moe.bias_update_speed() > 0)
    bias = param(p + "gate.e_score_correction_bias", {experts}, InitKind::zeros,
                 /*trainable=*/false);
  // Experts are stacked along a leading expert dimension; "{e}" marks the
  // per-expert names Hugging Face uses.
  std::string e = p + "experts.{e}.";
  Value gate = param(e + "gate_proj.weight", {experts, width, hidden}, InitKind::normal);
  Value up = param(e + "up_proj.weight", {experts, width, hidden}, InitKind::normal);
  Value down = param(e + "down_proj.weight", {experts, hidden, width}, InitKind::normal);

  Value logits = linear(x2d, gateW); // [tokens, experts]
  auto scoring = moe.scoring() == spec::MoE::SIGMOID ? ScoringFunc::sigmoid
                                                     : ScoringFunc::softmax;
  auto router = RouterOp::create(
      b, logits, bias, k, moe.n_group(), moe.topk_group(), scoring,
      llvm::APFloat(moe.routed_scaling_factor()), moe.norm_topk_prob(),
      moe.group_score() == spec::MoE::MAX);

  auto policy = CapacityPolicy::dropless;
  int64_t capacity = 0;
  if (moe.capacity() == spec::MoE::DROP) {
    policy = CapacityPolicy::drop;
    capacity = static_cast<int64_t>(std::ceil(
        moe.capacity_factor() * static_cast<double>(tokens * k) / experts));
  }
  auto dispatch = MoeDispatchOp::create(b, x2d, router.getIndices(), experts,
                                        policy, capacity);
  Value rows = dispatch.getRows(), sizes = dispatch.getGroupSizes();
  Value g = groupedLinear(rows, gate, sizes);
  Value u = groupedLinear(rows, up, sizes);
  Value act = MulOp::create(b, SiluOp::create(b, g), u);
  Value d = groupedLinear(act, down, sizes);
  Value out = MoeCombineOp::create(b, d, router.getWeights(),
                                   router.getIndices(), experts, policy,
                                   capacity);

  if (moe.num_shared_experts() > 0) {
    int64_t sharedWidth = moe.num_shared_experts() * width;
    std::string s = p + "shared_experts.";
    Value sg = param(s + "gate_proj.weight", {sharedWidth, hidden}, InitKind::normal);
    Value su = param(s + "up_proj.weight", {sharedWidth, hidden}, InitKind::normal);
    Value sd = param(s + "down_proj.weight", {hidden, sharedWidth}, InitKind::normal);
    out = add(out, swiglu(x2d, sg, su, sd));
  }

  if (moe.seq_aux_loss_alpha() > 0) {
    Value scores = reshape(router.getScores(), {batch, len, experts});
    Value idx = ReshapeOp::create(
        b, RankedTensorType::get({batch, len, k}, b.getI32Type()),
        router.getIndices());
    auxLosses.push_back(BalanceLossOp::create(
        b, scores, idx, llvm::APFloat(moe.seq_aux_loss_alpha())));
  }
  return out;
}

Value ForwardBuilder::layer(Value h, int64_t index, Value positions,
                            Value segments, int64_t len) {
  std::string prefix = "model.layers." + std::to_string(index) + ".";
  at(prefix.substr(0, prefix.size() - 1));
  Value ln1 = param(prefix + "input_layernorm.weight", {hidden}, InitKind::ones);
  Value ln2 = param(prefix + "post_attention_layernorm.weight", {hidden}, InitKind::ones);
  h = add(h, attention(norm(h, ln1), prefix, positions, segments, len));
  Value x2d = reshape(norm(h, ln2), {batch * len, hidden});
  bool isMoe = moe.num_routed_experts() > 0 && index >= arch.first_k_dense();
  Value ffn = isMoe ? moeFfn(x2d, prefix, len) : denseFfn(x2d, prefix);
  return add(h, reshape(ffn, {batch, len, hidden}));
}

Value ForwardBuilder::crossEntropy(Value logits, Value targets, int64_t) {
  return CrossEntropyOp::create(b, logits, targets, /*mask=*/nullptr,
                                static_cast<uint64_t>(-100));
}

OwningOpRef<ModuleOp> ForwardBuilder::build() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getLoc());
  const spec::Training &t = spec.training();
  TrainingConfig training;
  training.microBatch = t.micro_batch();
  training.seqLen = t.seq_len();
  training.gradAccum = t.grad_accum();
  training.lr = t.lr();
  training.minLr = t.min_lr();
  training.beta1 = t.beta1();
  training.beta2 = t.beta2();
  training.eps = t.eps();
  training.weightDecay = t.weight_decay();
  training.warmupSteps = t.warmup_steps();
  training.totalSteps = t.total_steps();
  training.clipNorm = t.clip_norm();
  training.seed = t.seed();
  training.biasUpdateSpeed = moe.bias_update_speed();
  Dsv3Dialect *dialect = b.getContext()->getOrLoadDialect<Dsv3Dialect>();
  dialect->getModelAttrHelper().setAttr(
      *module, b.getStringAttr(spec.name().empty() ? "model" : spec.name()));
  dialect->getTrainingAttrHelper().setAttr(*module,
                                           training.toAttr(b.getContext()));

  b.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(b, "forward", b.getFunctionType({}, {}));
  entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);

  at("model.embed_tokens");
  Value tokens = batchInput(BatchField::tokens);
  Value targets = batchInput(BatchField::targets);
  Value positions = batchInput(BatchField::positions);
  Value segments = batchInput(BatchField::segment_ids);
  embedTable = param("model.embed_tokens.weight", {arch.vocab_size(), hidden},
                     InitKind::normal);
  Value h = EmbeddingOp::create(b, embedTable, tokens);
  for (int64_t i = 0; i < arch.num_layers(); ++i)
    h = layer(h, i, positions, segments, seq);

  at("model.norm");
  Value finalNorm = param("model.norm.weight", {hidden}, InitKind::ones);
  Value hn = norm(h, finalNorm);
  at("lm_head");
  headWeight = arch.tie_embeddings()
                   ? embedTable
                   : param("lm_head.weight", {arch.vocab_size(), hidden},
                           InitKind::normal);
  Value loss = crossEntropy(linear(hn, headWeight), targets, seq);

  // Multi-token prediction: module k predicts token i + k + 1 from the
  // previous depth's hidden state at i and the embedding of token i + k.
  SmallVector<Value> mtpLosses;
  Value prev = h;
  for (int64_t k = 1; k <= spec.mtp().depth(); ++k) {
    int64_t index = arch.num_layers() + k - 1, len = seq - k;
    std::string prefix = "model.layers." + std::to_string(index) + ".";
    at(prefix.substr(0, prefix.size() - 1));
    Value enorm = param(prefix + "enorm.weight", {hidden}, InitKind::ones);
    Value hnorm = param(prefix + "hnorm.weight", {hidden}, InitKind::ones);
    Value proj = param(prefix + "eh_proj.weight", {hidden, 2 * hidden},
                       InitKind::normal);
    Value emb = EmbeddingOp::create(b, embedTable, sliceSeq(tokens, k, len));
    Value state = sliceSeq(prev, 0, len);
    Value joined = ConcatOp::create(
        b, ValueRange{norm(emb, enorm), norm(state, hnorm)}, 2);
    Value mh = linear(joined, proj);
    mh = layer(mh, index, sliceSeq(positions, 0, len),
               sliceSeq(segments, 0, len), len);
    at(prefix + "shared_head");
    Value headNorm = param(prefix + "shared_head.norm.weight", {hidden}, InitKind::ones);
    Value logits = linear(norm(mh, headNorm), headWeight);
    mtpLosses.push_back(crossEntropy(logits, sliceSeq(targets, k, len), len));
    prev = mh;
  }

  at("loss");
  auto scalar = [&](double v) {
    return ConstantOp::create(
        b, DenseElementsAttr::get(f32({}), b.getFloatAttr(floatType, v)));
  };
  if (!mtpLosses.empty()) {
    Value sum = mtpLosses.front();
    for (Value l : ArrayRef<Value>(mtpLosses).drop_front())
      sum = add(sum, l);
    double weight = spec.mtp().loss_weight() / mtpLosses.size();
    loss = add(loss, MulOp::create(b, sum, scalar(weight)));
  }
  for (Value aux : auxLosses)
    loss = add(loss, aux);
  func::ReturnOp::create(b, loss);

  func.setType(b.getFunctionType(entry->getArgumentTypes(), {loss.getType()}));
  func.setAllArgAttrs(argAttrs);
  return module;
}

} // namespace

OwningOpRef<ModuleOp> mlir::dsv3::buildForwardModule(const spec::ModelSpec &spec,
                                                     MLIRContext *context,
                                                     Type floatType) {
  context->loadDialect<Dsv3Dialect, func::FuncDialect>();
  return ForwardBuilder(spec, context, floatType).build();
}
