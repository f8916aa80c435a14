//===- SpecLoad.cpp - read ModelSpec text format and DeepSeek config.json -===//
//
// Both formats end up as one ModelSpec plus a locator that maps a ModelSpec
// field path back to a line of the source, so validation can point at it.
//
//===----------------------------------------------------------------------===//

#include "Spec/Spec.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <set>

using namespace mlir;
using namespace mlir::dsv3;
using json = nlohmann::json;

namespace {

/// 1-based line of byte `offset` in `text`.
int lineOf(StringRef text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<int>(text.take_front(offset).count('\n'));
}

//===----------------------------------------------------------------------===//
// Protobuf text format
//===----------------------------------------------------------------------===//

class TextErrorCollector : public google::protobuf::io::ErrorCollector {
public:
  TextErrorCollector(std::string path, llvm::raw_ostream &errs)
      : path(std::move(path)), errs(errs) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string &message) override {
    errs << path << ":" << line + 1 << ":" << column + 1 << ": " << message
         << "\n";
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string &message) override {
    errs << path << ":" << line + 1 << ":" << column + 1
         << ": warning: " << message << "\n";
  }

private:
  std::string path;
  llvm::raw_ostream &errs;
};

/// Line (1-based) of the deepest field of `fieldPath` present in the file,
/// or 0 when none of it was written.
int textLine(const google::protobuf::TextFormat::ParseInfoTree *tree,
             const google::protobuf::Descriptor *descriptor,
             StringRef fieldPath) {
  SmallVector<StringRef> parts;
  fieldPath.split(parts, '.');
  int line = 0;
  for (StringRef part : parts) {
    if (!tree || !descriptor)
      break;
    const auto *field = descriptor->FindFieldByName(part.str());
    if (!field)
      break;
    auto location = tree->GetLocation(field, field->is_repeated() ? 0 : -1);
    if (location.line < 0)
      break;
    line = location.line + 1;
    if (field->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE)
      break;
    tree = tree->GetTreeForNested(field, field->is_repeated() ? 0 : -1);
    descriptor = field->message_type();
  }
  return line;
}

FailureOr<LoadedSpec> loadText(StringRef path, StringRef text,
                               llvm::raw_ostream &errs) {
  LoadedSpec loaded;
  loaded.path = path.str();
  auto tree =
      std::make_shared<google::protobuf::TextFormat::ParseInfoTree>();
  TextErrorCollector collector(path.str(), errs);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(tree.get());
  if (!parser.ParseFromString(text.str(), &loaded.spec))
    return failure();
  std::string file = path.str();
  loaded.locate = [tree, file](StringRef fieldPath) {
    int line = textLine(tree.get(), spec::ModelSpec::descriptor(), fieldPath);
    std::string where = file + ":";
    if (line > 0)
      where += std::to_string(line) + ":";
    return where + " " + fieldPath.str();
  };
  loaded.fieldName = [](StringRef fieldPath) { return fieldPath.str(); };
  return loaded;
}

//===----------------------------------------------------------------------===//
// DeepSeek config.json
//===----------------------------------------------------------------------===//

/// Records where a JSON parse failed (the parser runs without exceptions).
struct ErrorPosition : nlohmann::json_sax<json> {
  size_t position = 0;
  std::string message;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t &) override { return true; }
  bool string(string_t &) override { return true; }
  bool binary(binary_t &) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t &) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t pos, const std::string &,
                   const nlohmann::detail::exception &e) override {
    position = pos;
    message = e.what();
    return false;
  }
};

/// Translates config.json keys into ModelSpec fields, remembering which key
/// fed which field so errors speak the config's language.
class ConfigTranslator {
public:
  ConfigTranslator(StringRef path, StringRef text, llvm::raw_ostream &errs)
      : path(path.str()), text(text.str()), errs(errs) {}

  FailureOr<LoadedSpec> translate(json config);

private:
  /// 1-based line of `"key"` (inside `"parent"` when given), 0 if absent.
  int keyLine(StringRef key, StringRef parent = "") const {
    size_t from = 0;
    if (!parent.empty()) {
      from = text.find("\"" + parent.str() + "\"");
      if (from == std::string::npos)
        return 0;
    }
    size_t at = text.find("\"" + key.str() + "\"", from);
    // A key that is missing from its object: the object's line.
    if (at == std::string::npos)
      return parent.empty() ? 0 : lineOf(text, from);
    return lineOf(text, at);
  }

  void error(StringRef key, const Twine &message, StringRef parent = "") {
    errs << path << ":";
    if (int line = keyLine(key, parent))
      errs << line << ":";
    errs << " " << (parent.empty() ? key.str() : (parent + "." + key).str())
         << ": " << message << "\n";
    failed = true;
  }

  static std::string typeName(const json &v) { return v.type_name(); }

  /// Reads an integer key into `out` (absent: leaves it; null: `ifNull`).
  bool getInt(const json &obj, StringRef key, int64_t &out,
              std::optional<int64_t> ifNull = std::nullopt,
              StringRef parent = "") {
    auto it = obj.find(key.str());
    if (it == obj.end())
      return false;
    if (it->is_null() && ifNull) {
      out = *ifNull;
      return true;
    }
    if (!it->is_number_integer()) {
      error(key, "expected an integer, got " + typeName(*it), parent);
      return false;
    }
    out = it->get<int64_t>();
    return true;
  }

  bool getDouble(const json &obj, StringRef key, double &out,
                 StringRef parent = "") {
    auto it = obj.find(key.str());
    if (it == obj.end())
      return false;
    if (!it->is_number()) {
      error(key, "expected a number, got " + typeName(*it), parent);
      return false;
    }
    out = it->get<double>();
    return true;
  }

  bool getBool(const json &obj, StringRef key, bool &out) {
    auto it = obj.find(key.str());
    if (it == obj.end())
      return false;
    if (!it->is_boolean()) {
      error(key, "expected true or false, got " + typeName(*it));
      return false;
    }
    out = it->get<bool>();
    return true;
  }

  bool getString(const json &obj, StringRef key, std::string &out,
                 StringRef parent = "") {
    auto it = obj.find(key.str());
    if (it == obj.end())
      return false;
    if (!it->is_string()) {
      error(key, "expected a string, got " + typeName(*it), parent);
      return false;
    }
    out = it->get<std::string>();
    return true;
  }

  std::string path, text;
  llvm::raw_ostream &errs;
  bool failed = false;
  /// ModelSpec field path -> config.json key path.
  std::shared_ptr<llvm::StringMap<std::string>> keys =
      std::make_shared<llvm::StringMap<std::string>>();
};

FailureOr<LoadedSpec> ConfigTranslator::translate(json config) {
  if (!config.is_object()) {
    errs << path << ": expected a JSON object at the top level\n";
    return failure();
  }
  LoadedSpec loaded;
  loaded.path = path;
  spec::ModelSpec &s = loaded.spec;
  auto *arch = s.mutable_arch();
  auto *attn = arch->mutable_attention();
  auto *moe = s.mutable_moe();
  auto &k = *keys;

  // Keys a DeepSeek config carries that do not change the training graph
  // (inference, serialization and bookkeeping settings of transformers and
  // of DeepSeek's own repositories), and keys read further down.
  static const std::set<std::string> ignored = {
      "architectures", "auto_map", "model_type", "torch_dtype", "dtype",
      "transformers_version", "bos_token_id", "eos_token_id", "pad_token_id",
      "use_cache", "max_position_embeddings", "pretraining_tp",
      "quantization_config", "ep_size", "seq_aux", "topk_method",
      "num_key_value_heads", "aux_loss_alpha", "rope_scaling",
      "rope_parameters", "rope_interleave", "qk_head_dim", "mlp_bias",
      "initializer_range", "attention_bias", "attention_dropout",
      "hidden_act", "moe_layer_freq", "output_router_logits",
      "router_aux_loss_coef", "output_attentions", "output_hidden_states",
      "return_dict", "torchscript", "_name_or_path", "name_or_path",
      "id2label", "label2id", "problem_type", "tokenizer_class",
      "chunk_size_feed_forward", "is_encoder_decoder", "use_return_dict",
      "_attn_implementation_autoset", "_commit_hash", "tf_legacy_loss",
      "use_bfloat16", "keys_to_ignore_at_inference"};

  // Defaults where a field is absent, by model_type: transformers'
  // DeepseekV3Config has no scoring_func or topk_method because V3 always
  // scores with a sigmoid and balances with the correction bias.
  std::string modelType;
  getString(config, "model_type", modelType);
  if (!modelType.empty() && modelType != "deepseek_v3" &&
      modelType != "deepseek_v2")
    error("model_type", "expected \"deepseek_v2\" or \"deepseek_v3\", got \"" +
                            modelType + "\"");
  auto derive = [&](const char *key, const json &value) {
    if (modelType.empty() || config.contains(key))
      return;
    config[key] = value;
    loaded.derived.push_back(std::string(key) + " = " + value.dump() +
                             " (absent; the " + modelType + " default)");
  };
  // Every field that shapes the math, as transformers' DeepseekV3Config /
  // DeepseekV2Config default it (null where theirs is None).
  bool v3 = modelType == "deepseek_v3";
  derive("scoring_func", v3 ? "sigmoid" : "softmax");
  derive("topk_method", v3 ? "noaux_tc" : "greedy");
  derive("norm_topk_prob", v3);
  derive("vocab_size", v3 ? 129280 : 102400);
  derive("hidden_size", v3 ? 7168 : 4096);
  derive("intermediate_size", v3 ? 18432 : 11008);
  derive("moe_intermediate_size", v3 ? 2048 : 1407);
  derive("num_hidden_layers", v3 ? 61 : 32);
  derive("num_attention_heads", v3 ? 128 : 32);
  derive("n_shared_experts", v3 ? 1 : 2);
  derive("n_routed_experts", v3 ? 256 : 64);
  derive("routed_scaling_factor", v3 ? 2.5 : 1.0);
  derive("kv_lora_rank", 512);
  derive("q_lora_rank", 1536);
  derive("qk_rope_head_dim", 64);
  derive("qk_nope_head_dim", 128);
  derive("v_head_dim", 128);
  derive("first_k_dense_replace", v3 ? 3 : 0);
  derive("rms_norm_eps", 1e-6);
  derive("tie_word_embeddings", false);
  if (v3) {
    derive("n_group", 8);
    derive("topk_group", 4);
    derive("num_experts_per_tok", 8);
    derive("num_nextn_predict_layers", 1);
  }
  if (!config.contains("rope_parameters") && !config.contains("rope_scaling"))
    derive("rope_theta", 10000.0);
  // DeepSeek-V3 routes one way only (its own code and transformers' refuse
  // or ignore anything else).
  if (v3) {
    auto method = config.find("topk_method");
    auto scoring = config.find("scoring_func");
    if (scoring != config.end() && *scoring != "sigmoid")
      error("scoring_func", "model_type deepseek_v3 scores experts with a "
                            "sigmoid, got " + scoring->dump());
    if (method != config.end() && *method != "noaux_tc")
      error("topk_method", "model_type deepseek_v3 routes with \"noaux_tc\" "
                           "(the correction bias), got " + method->dump());
  }

  struct IntKey {
    const char *key;
    const char *field;
    std::function<void(int64_t)> set;
    std::optional<int64_t> ifNull;
  };
  const IntKey ints[] = {
      {"vocab_size", "arch.vocab_size",
       [&](int64_t v) { arch->set_vocab_size(v); }, std::nullopt},
      {"hidden_size", "arch.hidden_size",
       [&](int64_t v) { arch->set_hidden_size(v); }, std::nullopt},
      {"num_hidden_layers", "arch.num_layers",
       [&](int64_t v) { arch->set_num_layers(v); }, std::nullopt},
      {"first_k_dense_replace", "arch.first_k_dense",
       [&](int64_t v) { arch->set_first_k_dense(v); }, std::nullopt},
      {"intermediate_size", "arch.dense_intermediate_size",
       [&](int64_t v) { arch->set_dense_intermediate_size(v); }, std::nullopt},
      {"num_attention_heads", "arch.num_heads",
       [&](int64_t v) { arch->set_num_heads(v); }, std::nullopt},
      {"head_dim", "arch.attention.head_dim",
       [&](int64_t v) { attn->set_head_dim(v); }, std::nullopt},
      {"q_lora_rank", "arch.attention.q_lora_rank",
       [&](int64_t v) { attn->set_q_lora_rank(v); }, 0},
      {"kv_lora_rank", "arch.attention.kv_lora_rank",
       [&](int64_t v) { attn->set_kv_lora_rank(v); }, 0},
      {"qk_nope_head_dim", "arch.attention.qk_nope_head_dim",
       [&](int64_t v) { attn->set_qk_nope_head_dim(v); }, std::nullopt},
      {"qk_rope_head_dim", "arch.attention.qk_rope_head_dim",
       [&](int64_t v) { attn->set_qk_rope_head_dim(v); }, std::nullopt},
      {"v_head_dim", "arch.attention.v_head_dim",
       [&](int64_t v) { attn->set_v_head_dim(v); }, std::nullopt},
      {"n_routed_experts", "moe.num_routed_experts",
       [&](int64_t v) { moe->set_num_routed_experts(v); }, 0},
      {"n_shared_experts", "moe.num_shared_experts",
       [&](int64_t v) { moe->set_num_shared_experts(v); }, 0},
      {"moe_intermediate_size", "moe.intermediate_size",
       [&](int64_t v) { moe->set_intermediate_size(v); }, std::nullopt},
      {"num_experts_per_tok", "moe.top_k",
       [&](int64_t v) { moe->set_top_k(v); }, 0},
      {"n_group", "moe.n_group", [&](int64_t v) { moe->set_n_group(v); }, 1},
      {"topk_group", "moe.topk_group",
       [&](int64_t v) { moe->set_topk_group(v); }, 1},
      {"num_nextn_predict_layers", "mtp.depth",
       [&](int64_t v) { s.mutable_mtp()->set_depth(v); }, 0},
  };

  std::set<std::string> known(ignored);
  for (const IntKey &key : ints) {
    known.insert(key.key);
    k[key.field] = key.key;
    int64_t v;
    if (getInt(config, key.key, v, key.ifNull))
      key.set(v);
  }

  struct FloatKey {
    const char *key;
    const char *field;
    std::function<void(double)> set;
  };
  const FloatKey floats[] = {
      {"rope_theta", "arch.rope_theta",
       [&](double v) { arch->set_rope_theta(v); }},
      {"rms_norm_eps", "arch.rms_norm_eps",
       [&](double v) { arch->set_rms_norm_eps(v); }},
      {"routed_scaling_factor", "moe.routed_scaling_factor",
       [&](double v) { moe->set_routed_scaling_factor(v); }},
  };
  for (const FloatKey &key : floats) {
    known.insert(key.key);
    k[key.field] = key.key;
    double v;
    if (getDouble(config, key.key, v))
      key.set(v);
  }

  known.insert({"tie_word_embeddings", "norm_topk_prob", "scoring_func"});
  k["arch.tie_embeddings"] = "tie_word_embeddings";
  k["moe.norm_topk_prob"] = "norm_topk_prob";
  k["moe.scoring"] = "scoring_func";
  bool flag;
  if (getBool(config, "tie_word_embeddings", flag))
    arch->set_tie_embeddings(flag);
  if (getBool(config, "norm_topk_prob", flag))
    moe->set_norm_topk_prob(flag);
  std::string scoring;
  if (getString(config, "scoring_func", scoring)) {
    if (scoring == "softmax")
      moe->set_scoring(spec::MoE::SOFTMAX);
    else if (scoring == "sigmoid")
      moe->set_scoring(spec::MoE::SIGMOID);
    else
      error("scoring_func", "expected \"softmax\" or \"sigmoid\", got \"" +
                                scoring + "\"");
  }

  for (auto it = config.begin(); it != config.end(); ++it)
    if (!known.count(it.key()))
      error(it.key(), "unknown field (not a DeepSeek-V2/V3 config key)");

  // MLA when the config has a KV compression rank (every DeepSeek-V2/V3).
  attn->set_kind(attn->kv_lora_rank() > 0 ? spec::Attention::MLA
                                          : spec::Attention::MHA);
  k["arch.attention.kind"] = "kv_lora_rank";
  k["arch.attention.num_kv_heads"] = "num_key_value_heads";
  int64_t kvHeads;
  if (getInt(config, "num_key_value_heads", kvHeads, std::nullopt)) {
    if (attn->kind() == spec::Attention::MHA)
      attn->set_num_kv_heads(kvHeads);
    else if (kvHeads != arch->num_heads())
      error("num_key_value_heads",
            "with MLA every head has its own key and value (from the "
            "shared latent); it must equal num_attention_heads (" +
                Twine(arch->num_heads()) + "), got " + Twine(kvHeads));
  }
  double dropout;
  if (getDouble(config, "attention_dropout", dropout) && dropout != 0)
    error("attention_dropout", "attention dropout is not supported; it must "
                               "be 0, got " + Twine(json(dropout).dump()));

  // Settings the graph does not model must have the values it assumes.
  std::string act;
  if (getString(config, "hidden_act", act) && act != "silu")
    error("hidden_act", "only \"silu\" (SwiGLU) is supported, got \"" + act +
                            "\"");
  if (getBool(config, "attention_bias", flag) && flag)
    error("attention_bias", "attention projections with bias are not "
                            "supported");
  if (getBool(config, "mlp_bias", flag) && flag)
    error("mlp_bias", "MLP projections with bias are not supported");
  // transformers 5 writes head_dim = qk_rope_head_dim and qk_head_dim =
  // qk_nope_head_dim + qk_rope_head_dim for MLA; both are implied.
  if (attn->kind() == spec::Attention::MLA) {
    if (attn->has_head_dim() && attn->head_dim() != attn->qk_rope_head_dim())
      error("head_dim", "with MLA (kv_lora_rank > 0) the head width is "
                        "qk_nope_head_dim + qk_rope_head_dim; head_dim, when "
                        "given, must equal qk_rope_head_dim (" +
                            Twine(attn->qk_rope_head_dim()) + "), got " +
                            Twine(attn->head_dim()));
    attn->clear_head_dim();
    int64_t qkHead;
    if (getInt(config, "qk_head_dim", qkHead) &&
        qkHead != attn->qk_nope_head_dim() + attn->qk_rope_head_dim())
      error("qk_head_dim", "must be qk_nope_head_dim + qk_rope_head_dim (" +
                               Twine(attn->qk_nope_head_dim() +
                                     attn->qk_rope_head_dim()) +
                               "), got " + Twine(qkHead));
  }
  // DeepSeek's rotary layout pairs adjacent dimensions (x0, x1), (x2, x3);
  // transformers' rope_interleave = false would rotate halves instead.
  if (getBool(config, "rope_interleave", flag) && !flag)
    error("rope_interleave", "only true (DeepSeek's interleaved rotary "
                             "pairs) is supported");
  int64_t freq;
  if (getInt(config, "moe_layer_freq", freq) && freq != 1)
    error("moe_layer_freq", "only 1 (every layer after the dense ones is MoE) "
                            "is supported, got " + Twine(freq));

  // Routing method: "greedy" ignores groups, "noaux_tc" is DeepSeek-V3's
  // aux-loss-free balancing (bias step gamma = 0.001).
  std::string method;
  k["moe.bias_update_speed"] = "topk_method";
  if (getString(config, "topk_method", method)) {
    if (method == "greedy") {
      moe->set_n_group(1);
      moe->set_topk_group(1);
    } else if (method == "noaux_tc") {
      moe->set_bias_update_speed(0.001);
    } else if (method == "group_limited_greedy") {
      moe->set_group_score(spec::MoE::MAX);
    } else {
      error("topk_method", "expected \"greedy\", \"group_limited_greedy\" or "
                           "\"noaux_tc\", got \"" + method + "\"");
    }
  }
  k["moe.seq_aux_loss_alpha"] = "aux_loss_alpha";
  double alpha;
  bool seqAux = true;
  getBool(config, "seq_aux", seqAux);
  if (getDouble(config, "aux_loss_alpha", alpha) && seqAux)
    moe->set_seq_aux_loss_alpha(alpha);
  k["training.init_std"] = "initializer_range";
  double std;
  if (getDouble(config, "initializer_range", std))
    s.mutable_training()->set_init_std(std);

  // RoPE: rope_scaling ({"type": "yarn", ...} or null; transformers 4 and
  // DeepSeek's repositories) or rope_parameters ({"rope_type": "default" or
  // "yarn", "rope_theta", ...}; transformers 5), not both.
  bool hasScaling = config.contains("rope_scaling") &&
                    !config["rope_scaling"].is_null();
  bool hasParameters = config.contains("rope_parameters") &&
                       !config["rope_parameters"].is_null();
  if (hasScaling && hasParameters)
    error("rope_parameters", "given together with rope_scaling; a config "
                             "has one or the other");
  const char *ropeKey = hasParameters ? "rope_parameters" : "rope_scaling";
  auto scaling = config.find(ropeKey);
  if (scaling != config.end() && !scaling->is_null()) {
    if (!scaling->is_object()) {
      error(ropeKey, "expected an object or null, got " + typeName(*scaling));
    } else {
      std::string type, ropeType;
      bool hasType = getString(*scaling, "type", type, ropeKey);
      bool hasRopeType = getString(*scaling, "rope_type", ropeType, ropeKey);
      if (hasType && hasRopeType && type != ropeType)
        error("rope_type", "\"" + ropeType + "\" disagrees with type \"" +
                               type + "\"",
              ropeKey);
      if (!hasType)
        type = hasRopeType ? ropeType : hasParameters ? "default" : "";
      bool plain = hasParameters && type == "default";
      if (type != "yarn" && !plain)
        error(scaling->contains("type") ? "type" : "rope_type",
              Twine("only ") + (hasParameters ? "\"default\" and " : "") +
                  "\"yarn\" rope scaling is supported, got \"" + type + "\"",
              ropeKey);
      static const std::set<std::string> yarnKeys = {
          "type", "rope_type", "factor", "original_max_position_embeddings",
          "beta_fast", "beta_slow", "mscale", "mscale_all_dim", "rope_theta"};
      for (auto it = scaling->begin(); it != scaling->end(); ++it)
        if (!yarnKeys.count(it.key()) ||
            (plain && it.key() != "rope_type" && it.key() != "type" &&
             it.key() != "rope_theta"))
          error(it.key(),
                plain ? "unknown field for rope_type \"default\""
                      : "unknown field",
                ropeKey);
      double v;
      int64_t n;
      if (getDouble(*scaling, "rope_theta", v, ropeKey)) {
        if (config.contains("rope_theta") && config["rope_theta"] != v)
          error("rope_theta",
                Twine("differs from ") + ropeKey + ".rope_theta");
        arch->set_rope_theta(v);
        k["arch.rope_theta"] = std::string(ropeKey) + ".rope_theta";
      }
      if (!plain) {
        auto *yarn = arch->mutable_yarn();
        if (getDouble(*scaling, "factor", v, ropeKey))
          yarn->set_factor(v);
        else
          error("factor", "YaRN needs its context extension factor",
                ropeKey);
        if (getInt(*scaling, "original_max_position_embeddings", n,
                   std::nullopt, ropeKey))
          yarn->set_original_max_position(n);
        else if (getInt(config, "max_position_embeddings", n))
          yarn->set_original_max_position(n);
        else
          error("original_max_position_embeddings",
                "YaRN needs the context length before extension (here or "
                "as max_position_embeddings)",
                ropeKey);
        if (getDouble(*scaling, "beta_fast", v, ropeKey))
          yarn->set_beta_fast(v);
        if (getDouble(*scaling, "beta_slow", v, ropeKey))
          yarn->set_beta_slow(v);
        if (getDouble(*scaling, "mscale", v, ropeKey))
          yarn->set_mscale(v);
        if (getDouble(*scaling, "mscale_all_dim", v, ropeKey))
          yarn->set_mscale_all_dim(v);
        // DeepSeek's code scales the rotary tables by mscale(f, mscale) /
        // mscale(f, mscale_all_dim) always; transformers only when both are
        // non-zero, and by mscale(f, 1) otherwise. They agree unless one
        // is zero and mscale is not 1.
        if ((yarn->mscale() == 0) != (yarn->mscale_all_dim() == 0) &&
            yarn->mscale() != 1)
          error("mscale",
                "with mscale_all_dim " + Twine(json(yarn->mscale_all_dim()).dump()) +
                    " DeepSeek's code and transformers scale the rotary "
                    "tables differently; give both non-zero, or mscale 1",
                ropeKey);
        std::string parent = ropeKey;
        k["arch.yarn.factor"] = parent + ".factor";
        k["arch.yarn.original_max_position"] =
            parent + ".original_max_position_embeddings";
        k["arch.yarn.beta_fast"] = parent + ".beta_fast";
        k["arch.yarn.beta_slow"] = parent + ".beta_slow";
      }
    }
  }
  if (failed)
    return failure();

  // A Hugging Face directory's config.json is named after its directory.
  StringRef stem = llvm::sys::path::stem(path);
  StringRef dir = llvm::sys::path::filename(llvm::sys::path::parent_path(path));
  s.set_name((stem == "config" && !dir.empty() && dir != "." && dir != ".."
                  ? dir
                  : stem)
                 .str());
  auto keyMap = keys;
  std::string file = path, source = text;
  loaded.fieldName = [keyMap](StringRef fieldPath) {
    auto it = keyMap->find(fieldPath);
    return it == keyMap->end() ? fieldPath.str() : it->second;
  };
  loaded.locate = [keyMap, file, source](StringRef fieldPath) {
    auto it = keyMap->find(fieldPath);
    std::string key = it == keyMap->end() ? fieldPath.str() : it->second;
    StringRef leaf = StringRef(key).rsplit('.').second;
    StringRef parent = StringRef(key).rsplit('.').first;
    if (leaf.empty())
      std::swap(leaf, parent);
    size_t from = 0;
    if (!parent.empty())
      from = source.find("\"" + parent.str() + "\"");
    size_t at = from == std::string::npos
                    ? std::string::npos
                    : source.find("\"" + leaf.str() + "\"", from);
    std::string where = file + ":";
    if (at != std::string::npos)
      where += std::to_string(lineOf(source, at)) + ":";
    return where + " " + key;
  };
  return loaded;
}

void applyOverrides(LoadedSpec &loaded, const SpecOverrides &overrides) {
  auto *training = loaded.spec.mutable_training();
  llvm::StringMap<std::string> flags;
  if (overrides.microBatch) {
    training->set_micro_batch(*overrides.microBatch);
    flags["training.micro_batch"] = "--micro-batch";
  }
  if (overrides.seqLen) {
    training->set_seq_len(*overrides.seqLen);
    flags["training.seq_len"] = "--seq-len";
  }
  if (overrides.mtpDepth) {
    loaded.spec.mutable_mtp()->set_depth(*overrides.mtpDepth);
    flags["mtp.depth"] = "--mtp-depth";
  }
  if (flags.empty())
    return;
  auto locate = loaded.locate;
  auto name = loaded.fieldName;
  loaded.locate = [flags, locate](StringRef fieldPath) {
    auto it = flags.find(fieldPath);
    return it == flags.end() ? locate(fieldPath)
                             : "command line: " + it->second;
  };
  loaded.fieldName = [flags, name](StringRef fieldPath) {
    auto it = flags.find(fieldPath);
    return it == flags.end() ? name(fieldPath) : it->second;
  };
}

} // namespace

LogicalResult mlir::dsv3::checkUtf8Text(StringRef path, StringRef text,
                                        llvm::raw_ostream &errs) {
  size_t offset = 0;
  if (llvm::json::isUTF8(text, &offset))
    return success();
  errs << path << ":" << lineOf(text, offset) << ": not UTF-8 text (byte "
       << offset << "); a model description is UTF-8\n";
  return failure();
}

FailureOr<LoadedSpec> mlir::dsv3::loadModelSpec(StringRef path,
                                                const SpecOverrides &overrides,
                                                llvm::raw_ostream &errs) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path);
  if (!buffer) {
    errs << path << ": cannot read: " << buffer.getError().message() << "\n";
    return failure();
  }
  StringRef text = (*buffer)->getBuffer();
  if (failed(checkUtf8Text(path, text, errs)))
    return failure();
  FailureOr<LoadedSpec> loaded = failure();
  if (path.ends_with(".json")) {
    json config = json::parse(text.begin(), text.end(), nullptr,
                              /*allow_exceptions=*/false);
    if (config.is_discarded()) {
      ErrorPosition sax;
      (void)json::sax_parse(text.begin(), text.end(), &sax);
      errs << path << ":" << lineOf(text, sax.position ? sax.position - 1 : 0)
           << ": invalid JSON: " << sax.message << "\n";
      return failure();
    }
    loaded = ConfigTranslator(path, text, errs).translate(config);
  } else {
    loaded = loadText(path, text, errs);
  }
  if (failed(loaded))
    return failure();
  applyOverrides(*loaded, overrides);
  if (failed(validateModelSpec(*loaded, errs)))
    return failure();
  return loaded;
}
