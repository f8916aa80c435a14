//===- graph_generator.h - random valid forward graphs ----------*- C++ -*-===//
//
// Turns fuzzer bytes into a forward graph the compiler accepts: a module
// with the training knobs and a `@forward` of parameters and a batch to a
// scalar loss, built from the ops a DeepSeek-style model uses (embedding,
// norms, GEMMs, attention with rope, routed experts, elementwise and
// reductions, reshapes). Every shape is tracked, so the graph verifies by
// construction; every value reaches the loss, so every op is
// differentiated.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_FUZZ_COMPILER_GRAPH_GENERATOR_H
#define DSV3_FUZZ_COMPILER_GRAPH_GENERATOR_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace dsv3fuzz {

/// The forward graph, as MLIR text, that `data` describes. Any bytes give
/// a graph (the empty input gives the smallest: embedding, head, loss).
std::string generateForwardGraph(const uint8_t *data, size_t size);

} // namespace dsv3fuzz

#endif // DSV3_FUZZ_COMPILER_GRAPH_GENERATOR_H
