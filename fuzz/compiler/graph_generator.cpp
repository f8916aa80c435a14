//===- graph_generator.cpp - random valid forward graphs ------------------===//

#include "graph_generator.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <vector>

namespace dsv3fuzz {
namespace {

using Shape = std::vector<int64_t>;

struct Value {
  std::string name;
  Shape shape;
  bool used = false;
};

std::string join(const Shape &s, const char *separator) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i)
    out += (i ? separator : "") + std::to_string(s[i]);
  return out;
}

std::string tensor(const Shape &s, const char *element = "f32") {
  return "tensor<" + join(s, "x") + (s.empty() ? "" : "x") + element + ">";
}

int64_t product(const Shape &s) {
  return std::accumulate(s.begin(), s.end(), int64_t(1),
                         std::multiplies<int64_t>());
}

class Generator {
public:
  Generator(const uint8_t *data, size_t size) : in(data, size) {}

  std::string run() {
    batch = in.ConsumeIntegralInRange<int64_t>(1, 2);
    seq = in.ConsumeIntegralInRange<int64_t>(1, 4);
    hidden = pick({4, 8});
    vocab = pick({8, 16});
    Shape bs{batch, seq};

    // Every graph starts with the embedding.
    std::string table = param({vocab, hidden}, "model.embed_tokens.weight");
    values.push_back({"%x0", {batch, seq, hidden}});
    body += "    %x0 = dsv3.embedding " + table + "[%tokens] : " +
            tensor({vocab, hidden}) + ", " + tensor(bs, "i32") + " -> " +
            tensor({batch, seq, hidden}) + "\n";

    int ops = in.ConsumeIntegralInRange(0, 12);
    for (int i = 0; i < ops && in.remaining_bytes(); ++i)
      step();

    // The head on the latest activation of the batch's shape, then cross
    // entropy; every value nothing else read is reduced into the loss.
    size_t last = 0;
    for (size_t i = 0; i < values.size(); ++i)
      if (values[i].shape.size() == 3 && values[i].shape[0] == batch &&
          values[i].shape[1] == seq)
        last = i;
    Value x = use(last);
    std::string logits = matmul(x, vocab, in.ConsumeBool());
    values.back().used = true;
    std::string loss = emit("dsv3.cross_entropy " + logits + ", %targets : " +
                            tensor({batch, seq, vocab}) + ", " +
                            tensor(bs, "i32") + " -> tensor<f32>");
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i].used)
        continue;
      Value v = use(i);
      std::string r = v.name;
      if (!v.shape.empty()) {
        Shape all(v.shape.size());
        std::iota(all.begin(), all.end(), 0);
        r = emit("dsv3.reduce mean " + v.name + ", dims = [" +
                 join(all, ", ") + "] : " + tensor(v.shape) +
                 " -> tensor<f32>");
      }
      loss = emit("dsv3.add " + loss + ", " + r + " : tensor<f32>");
    }

    std::string module =
        "module attributes {dsv3.training = {lr = 1.0e-03 : f64, min_lr = "
        "1.0e-04 : f64, warmup_steps = 2 : i64, total_steps = 10 : i64, "
        "clip_norm = 1.0 : f64, weight_decay = 1.0e-01 : f64}} {\n"
        "  func.func @forward(";
    module += arguments;
    module += "%tokens: " + tensor(bs, "i32") +
              " {dsv3.batch = \"tokens\"}, %targets: " + tensor(bs, "i32") +
              " {dsv3.batch = \"targets\"}, %positions: " +
              tensor(bs, "i32") + " {dsv3.batch = \"positions\"}) -> " +
              "tensor<f32> {\n";
    module += body;
    module += "    return " + loss + " : tensor<f32>\n  }\n}\n";
    return module;
  }

private:
  FuzzedDataProvider in;
  int64_t batch = 1, seq = 1, hidden = 4, vocab = 8;
  std::vector<Value> values;
  std::string arguments, body;
  int next = 0, params = 0;

  int64_t pick(std::initializer_list<int64_t> choices) {
    return *(choices.begin() +
             in.ConsumeIntegralInRange<size_t>(0, choices.size() - 1));
  }

  std::string fresh() { return "%v" + std::to_string(next++); }

  /// A new parameter; `hfName` names it for the runtime (the embedding
  /// table gives the executable its vocabulary).
  std::string param(const Shape &shape, const std::string &hfName = "") {
    std::string name = "%p" + std::to_string(params);
    // Norm weights start at one, everything else small and random.
    std::string init = shape.size() == 1
                           ? "dsv3.init = \"ones\""
                           : "dsv3.init = \"normal\", dsv3.init_std = 0.1 : f64";
    arguments += name + ": " + tensor(shape) + " {" + init +
                 ", dsv3.name = \"" +
                 (hfName.empty() ? "p" + std::to_string(params) : hfName) +
                 "\"}, ";
    ++params;
    return name;
  }

  /// The index of a value, preferring the recent ones; those that match
  /// `accept` only (the embedding always does for rank 3).
  template <typename Accept> std::optional<size_t> choose(Accept accept) {
    std::vector<size_t> candidates;
    for (size_t i = 0; i < values.size(); ++i)
      if (accept(values[i].shape))
        candidates.push_back(i);
    if (candidates.empty())
      return std::nullopt;
    // Half the time the newest, so chains grow deep.
    if (in.ConsumeBool())
      return candidates.back();
    return candidates[in.ConsumeIntegralInRange<size_t>(
        0, candidates.size() - 1)];
  }

  Value use(size_t i) {
    values[i].used = true;
    return values[i];
  }

  /// A new value that `rhs` computes, which later ops do not read.
  std::string emit(const std::string &rhs) {
    std::string name = fresh();
    body += "    " + name + " = " + rhs + "\n";
    return name;
  }

  /// A new value of `shape` that `rhs` computes, for later ops to read.
  std::string define(const Shape &shape, const std::string &rhs) {
    std::string name = emit(rhs);
    values.push_back({name, shape});
    return name;
  }

  std::string reshape(const Value &v, const Shape &to) {
    return define(to, "dsv3.reshape " + v.name + " : " + tensor(v.shape) +
                          " -> " + tensor(to));
  }

  /// x [..., K] times a new parameter: [K, n], or [n, K] transposed.
  std::string matmul(const Value &x, int64_t n, bool transposed) {
    int64_t k = x.shape.back();
    Shape out = x.shape;
    out.back() = n;
    Shape w = transposed ? Shape{n, k} : Shape{k, n};
    std::string p = param(w);
    return define(out, "dsv3.matmul " + x.name + ", " + p +
                           (transposed ? " transpose_rhs" : "") + " : " +
                           tensor(x.shape) + ", " + tensor(w) + " -> " +
                           tensor(out));
  }

  void step() {
    auto any = [](const Shape &) { return true; };
    auto ranked = [](const Shape &s) { return !s.empty(); };
    auto matrix = [](const Shape &s) { return s.size() >= 2; };
    switch (in.ConsumeIntegralInRange(0, 11)) {
    case 0: { // elementwise, one operand
      static const char *ops[] = {"exp", "neg", "sigmoid", "silu", "rsqrt",
                                  "log"};
      Value v = use(*choose(any));
      define(v.shape, std::string("dsv3.") + ops[in.ConsumeIntegralInRange(
                                                     0, 5)] +
                          " " + v.name + " : " + tensor(v.shape));
      break;
    }
    case 1: { // elementwise, two operands of one shape
      static const char *ops[] = {"add", "sub", "mul", "div"};
      Value a = use(*choose(any));
      std::string b;
      if (in.ConsumeBool()) {
        b = use(*choose([&](const Shape &s) { return s == a.shape; })).name;
      } else {
        b = param(a.shape);
      }
      define(a.shape, std::string("dsv3.") + ops[in.ConsumeIntegralInRange(
                                                     0, 3)] +
                          " " + a.name + ", " + b + " : " + tensor(a.shape));
      break;
    }
    case 2: { // a GEMM against a new weight
      Value x = use(choose(matrix).value_or(0));
      matmul(x, pick({2, 4, 8}), in.ConsumeBool());
      break;
    }
    case 3: { // RMSNorm over the last dimension
      Value x = use(*choose(ranked));
      std::string w = param({x.shape.back()});
      define(x.shape, "dsv3.rms_norm " + x.name + ", " + w +
                          ", eps = 1.0e-06 : " + tensor(x.shape) + ", " +
                          tensor({x.shape.back()}));
      break;
    }
    case 4: { // softmax or log-softmax along any dimension
      Value x = use(*choose(ranked));
      int64_t dim = in.ConsumeIntegralInRange<int64_t>(0, x.shape.size() - 1);
      define(x.shape, std::string(in.ConsumeBool() ? "dsv3.softmax "
                                                   : "dsv3.log_softmax ") +
                          x.name + ", dim = " + std::to_string(dim) + " : " +
                          tensor(x.shape));
      break;
    }
    case 5: { // a reduction over some dimensions
      Value x = use(*choose(ranked));
      Shape dims, out;
      for (size_t d = 0; d < x.shape.size(); ++d) {
        if (in.ConsumeBool())
          dims.push_back(d);
        else
          out.push_back(x.shape[d]);
      }
      if (dims.empty()) {
        dims.push_back(x.shape.size() - 1);
        out.pop_back();
      }
      static const char *kinds[] = {"sum", "mean", "max"};
      define(out, std::string("dsv3.reduce ") +
                      kinds[in.ConsumeIntegralInRange(0, 2)] + " " + x.name +
                      ", dims = [" + join(dims, ", ") + "] : " +
                      tensor(x.shape) + " -> " + tensor(out));
      break;
    }
    case 6: { // a transpose
      auto found = choose(matrix);
      if (!found)
        break;
      Value x = use(*found);
      Shape perm(x.shape.size());
      std::iota(perm.begin(), perm.end(), 0);
      for (size_t i = perm.size() - 1; i > 0; --i)
        std::swap(perm[i], perm[in.ConsumeIntegralInRange<size_t>(0, i)]);
      Shape out;
      for (int64_t p : perm)
        out.push_back(x.shape[p]);
      define(out, "dsv3.transpose " + x.name + ", perm = [" +
                      join(perm, ", ") + "] : " + tensor(x.shape) + " -> " +
                      tensor(out));
      break;
    }
    case 7: { // a reshape: merge two neighbours, or split an even one
      Value x = use(*choose(ranked));
      Shape out = x.shape;
      size_t d = in.ConsumeIntegralInRange<size_t>(0, out.size() - 1);
      if (d + 1 < out.size() && in.ConsumeBool()) {
        out[d] *= out[d + 1];
        out.erase(out.begin() + d + 1);
      } else if (out[d] % 2 == 0) {
        out[d] /= 2;
        out.insert(out.begin() + d, 2);
      } else {
        out.insert(out.begin() + d, 1);
      }
      reshape(x, out);
      break;
    }
    case 8: { // a strided slice along one dimension
      auto found = choose([](const Shape &s) {
        return std::any_of(s.begin(), s.end(), [](int64_t n) { return n > 1; });
      });
      if (!found)
        break;
      Value x = use(*found);
      size_t d = 0;
      while (x.shape[d] < 2)
        ++d;
      Shape start(x.shape.size(), 0), limit = x.shape,
          strides(x.shape.size(), 1);
      start[d] = in.ConsumeIntegralInRange<int64_t>(0, x.shape[d] - 1);
      strides[d] = in.ConsumeIntegralInRange<int64_t>(1, 2);
      Shape out = x.shape;
      out[d] = (limit[d] - start[d] + strides[d] - 1) / strides[d];
      define(out, "dsv3.slice " + x.name + ", start = [" + join(start, ", ") +
                      "], limit = [" + join(limit, ", ") + "], strides = [" +
                      join(strides, ", ") + "] : " + tensor(x.shape) +
                      " -> " + tensor(out));
      break;
    }
    case 9: { // a bf16 round trip
      Value x = use(*choose(any));
      std::string b = emit("dsv3.cast " + x.name + " : " + tensor(x.shape) +
                           " to " + tensor(x.shape, "bf16"));
      define(x.shape, "dsv3.cast " + b + " : " + tensor(x.shape, "bf16") +
                          " to " + tensor(x.shape));
      break;
    }
    case 10:
      moe();
      break;
    case 11:
      attention();
      break;
    }
  }

  /// Routed experts on the rows of a matrix: router, dispatch, two
  /// grouped GEMMs with SiLU between, combine.
  void moe() {
    Value x =
        use(choose([](const Shape &s) { return s.size() >= 2; }).value_or(0));
    int64_t d = x.shape.back(), tokens = product(x.shape) / d;
    if (x.shape.size() != 2) {
      reshape(x, {tokens, d});
      x = use(values.size() - 1);
    }
    int64_t experts = pick({2, 4});
    int64_t topK = in.ConsumeIntegralInRange<int64_t>(1, 2);
    int64_t ffn = pick({2, 4, 8});
    std::string logits = matmul(x, experts, true);
    values.back().used = true;
    std::string gate = fresh(), idx = fresh(), scores = fresh();
    body += "    " + gate + ", " + idx + ", " + scores +
            " = dsv3.router softmax " + logits + " {top_k = " +
            std::to_string(topK) + " : i64} : " + tensor({tokens, experts}) +
            " -> " + tensor({tokens, topK}) + ", " +
            tensor({tokens, topK}, "i32") + ", " + tensor({tokens, experts}) +
            "\n";
    // The scores reach the loss through the router's gradient of them.
    values.push_back({scores, {tokens, experts}});
    std::string rows = fresh(), sizes = fresh();
    int64_t copies = tokens * topK;
    body += "    " + rows + ", " + sizes + " = dsv3.moe_dispatch " + x.name +
            ", " + idx + " {num_experts = " + std::to_string(experts) +
            " : i64} : " + tensor({tokens, d}) + ", " +
            tensor({tokens, topK}, "i32") + " -> " + tensor({copies, d}) +
            ", " + tensor({experts}, "i32") + "\n";
    std::string up = param({experts, d, ffn});
    auto groupedMatmul = [&](const std::string &lhs, int64_t k,
                             const std::string &w, bool transposed) {
      int64_t n = transposed ? d : ffn;
      return emit("dsv3.grouped_matmul " + lhs + ", " + w + ", " + sizes +
                  (transposed ? " transpose_rhs : " : " : ") +
                  tensor({copies, k}) + ", " + tensor({experts, d, ffn}) +
                  ", " + tensor({experts}, "i32") + " -> " +
                  tensor({copies, n}));
    };
    std::string h = groupedMatmul(rows, d, up, false);
    std::string act = emit("dsv3.silu " + h + " : " + tensor({copies, ffn}));
    std::string down = param({experts, d, ffn});
    std::string y = groupedMatmul(act, ffn, down, true);
    define({tokens, d}, "dsv3.moe_combine " + y + ", " + gate + ", " + idx +
                            " {num_experts = " + std::to_string(experts) +
                            " : i64} : " + tensor({copies, d}) + ", " +
                            tensor({tokens, topK}) + ", " +
                            tensor({tokens, topK}, "i32") + " -> " +
                            tensor({tokens, d}));
  }

  /// Causal attention with rope over heads of an activation [batch, seq, d].
  void attention() {
    auto found = choose([&](const Shape &s) {
      return s.size() == 3 && s[0] == batch && s[1] == seq && s[2] % 2 == 0;
    });
    if (!found)
      return;
    Value x = use(*found);
    int64_t d = x.shape[2];
    int64_t heads = (d / 2) % 2 == 0 && in.ConsumeBool() ? 2 : 1;
    Shape split{batch, seq, heads, d / heads};
    std::string qkv[3];
    for (int i = 0; i < 3; ++i) {
      matmul(x, d, in.ConsumeBool());
      Value projected = use(values.size() - 1);
      qkv[i] = reshape(projected, split);
      values.back().used = true;
      if (i < 2 && in.ConsumeBool()) {
        qkv[i] = define(split, "dsv3.rope " + qkv[i] +
                                   ", %positions, theta = 1.0e+04 : " +
                                   tensor(split) + ", " +
                                   tensor({batch, seq}, "i32"));
        values.back().used = true;
      }
    }
    define(split, "dsv3.attention " + qkv[0] + ", " + qkv[1] + ", " + qkv[2] +
                      " causal scale = 0.5 : " + tensor(split) + ", " +
                      tensor(split) + ", " + tensor(split) + " -> " +
                      tensor(split));
    Value out = use(values.size() - 1);
    reshape(out, {batch, seq, d});
  }
};

} // namespace

std::string generateForwardGraph(const uint8_t *data, size_t size) {
  return Generator(data, size).run();
}

} // namespace dsv3fuzz
