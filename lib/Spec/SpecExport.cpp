//===- SpecExport.cpp - a ModelSpec as a Hugging Face config.json ---------===//
//
// The inverse of the config.json import for the models transformers'
// DeepseekV3 (sigmoid routing with the correction bias) and DeepseekV2
// (softmax routing) classes compute: a checkpoint directory with this file
// beside its model.safetensors loads with AutoModelForCausalLM.
//
//===----------------------------------------------------------------------===//

#include "Spec/Spec.h"

#include <nlohmann/json.hpp>

using namespace mlir;
using namespace mlir::dsv3;
using json = nlohmann::ordered_json;

FailureOr<std::string> mlir::dsv3::huggingFaceConfig(const spec::ModelSpec &s,
                                                     std::string &whyNot) {
  const spec::Architecture &arch = s.arch();
  const spec::Attention &attn = arch.attention();
  const spec::MoE &moe = s.moe();
  auto refuse = [&](std::string why) -> FailureOr<std::string> {
    whyNot = std::move(why);
    return failure();
  };
  if (attn.kind() != spec::Attention::MLA)
    return refuse("its attention is MHA; transformers' DeepSeek classes "
                  "compute MLA only");
  if (moe.num_routed_experts() == 0)
    return refuse("it has no routed experts; transformers' DeepSeek classes "
                  "are MoE models");
  if (moe.capacity() != spec::MoE::DROPLESS)
    return refuse("its experts drop tokens past a capacity; transformers' "
                  "DeepSeek routing is dropless");
  if (s.mtp().depth() > 0)
    return refuse("it has MTP modules (mtp.depth " +
                  std::to_string(s.mtp().depth()) +
                  "), which transformers' DeepSeek classes do not compute");
  if (moe.num_shared_experts() == 0)
    return refuse("it has no shared expert; transformers' DeepSeek classes "
                  "always have one");
  if (arch.has_yarn() && arch.yarn().factor() > 1 &&
      (arch.yarn().mscale() == 0) != (arch.yarn().mscale_all_dim() == 0) &&
      arch.yarn().mscale() != 1)
    return refuse("its YaRN mscale is scaled against a zero mscale_all_dim "
                  "(or the reverse), which transformers computes "
                  "differently");
  bool sigmoid = moe.scoring() == spec::MoE::SIGMOID;
  bool grouped = moe.n_group() > 1;
  if (sigmoid) {
    if (moe.bias_update_speed() <= 0)
      return refuse("its sigmoid router has no correction bias "
                    "(moe.bias_update_speed 0); transformers' DeepseekV3 "
                    "always has e_score_correction_bias");
    if (grouped && moe.group_score() != spec::MoE::TOP2_SUM)
      return refuse("its sigmoid router ranks groups by their best score; "
                    "transformers' DeepseekV3 ranks them by the sum of two");
  } else {
    if (moe.norm_topk_prob())
      return refuse("its softmax router normalizes the top-k weights "
                    "(moe.norm_topk_prob); transformers' DeepseekV2 does not");
    if (moe.bias_update_speed() > 0)
      return refuse("its softmax router has a correction bias "
                    "(moe.bias_update_speed); transformers' DeepseekV2 has "
                    "none");
    if (grouped && moe.group_score() != spec::MoE::MAX)
      return refuse("its softmax router ranks groups by the sum of two "
                    "scores; transformers' DeepseekV2 ranks them by the best");
  }

  json c;
  c["architectures"] = {sigmoid ? "DeepseekV3ForCausalLM"
                                : "DeepseekV2ForCausalLM"};
  c["model_type"] = sigmoid ? "deepseek_v3" : "deepseek_v2";
  c["dtype"] = "float32";
  c["vocab_size"] = arch.vocab_size();
  c["hidden_size"] = arch.hidden_size();
  c["num_hidden_layers"] = arch.num_layers();
  c["first_k_dense_replace"] = arch.first_k_dense();
  c["intermediate_size"] = arch.dense_intermediate_size() > 0
                               ? arch.dense_intermediate_size()
                               : moe.intermediate_size();
  c["num_attention_heads"] = arch.num_heads();
  c["num_key_value_heads"] = arch.num_heads();
  c["q_lora_rank"] = attn.q_lora_rank() > 0 ? json(attn.q_lora_rank())
                                            : json(nullptr);
  c["kv_lora_rank"] = attn.kv_lora_rank();
  c["qk_nope_head_dim"] = attn.qk_nope_head_dim();
  c["qk_rope_head_dim"] = attn.qk_rope_head_dim();
  c["qk_head_dim"] = attn.qk_nope_head_dim() + attn.qk_rope_head_dim();
  c["head_dim"] = attn.qk_rope_head_dim();
  c["v_head_dim"] = attn.v_head_dim();
  c["n_routed_experts"] = moe.num_routed_experts();
  c["n_shared_experts"] = moe.num_shared_experts();
  c["moe_intermediate_size"] = moe.intermediate_size();
  c["num_experts_per_tok"] = moe.top_k();
  c["n_group"] = moe.n_group();
  c["topk_group"] = moe.topk_group();
  c["scoring_func"] = sigmoid ? "sigmoid" : "softmax";
  c["topk_method"] = sigmoid    ? "noaux_tc"
                     : grouped ? "group_limited_greedy"
                               : "greedy";
  c["norm_topk_prob"] = moe.norm_topk_prob();
  c["routed_scaling_factor"] = moe.routed_scaling_factor();
  if (moe.seq_aux_loss_alpha() > 0) {
    c["aux_loss_alpha"] = moe.seq_aux_loss_alpha();
    c["seq_aux"] = true;
  }
  c["hidden_act"] = "silu";
  c["attention_bias"] = false;
  c["rms_norm_eps"] = arch.rms_norm_eps();
  c["tie_word_embeddings"] = arch.tie_embeddings();
  c["initializer_range"] = s.training().init_std();
  int64_t context = s.training().seq_len();
  json rope = {{"rope_type", "default"}, {"rope_theta", arch.rope_theta()}};
  if (arch.has_yarn() && arch.yarn().factor() > 1) {
    const spec::Yarn &y = arch.yarn();
    rope = {{"rope_type", "yarn"},
            {"rope_theta", arch.rope_theta()},
            {"factor", y.factor()},
            {"original_max_position_embeddings", y.original_max_position()},
            {"beta_fast", y.beta_fast()},
            {"beta_slow", y.beta_slow()},
            {"mscale", y.mscale()},
            {"mscale_all_dim", y.mscale_all_dim()}};
    context = std::max<int64_t>(
        context, static_cast<int64_t>(y.factor() * y.original_max_position()));
  }
  c["rope_theta"] = arch.rope_theta();
  c["rope_parameters"] = rope;
  if (sigmoid) {
    c["rope_interleave"] = true;
    c["num_nextn_predict_layers"] = 0;
  }
  c["max_position_embeddings"] = context;
  c["use_cache"] = true;
  return c.dump(2) + "\n";
}
