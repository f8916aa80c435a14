//===- int8_export.h - int8 weights of a quantization-aware model -*- C++ -*-===//
//
// Writes what a model trained with int8 quantization-aware training
// (dsv3-compile --qat=int8) serves with: each quantized weight as int8
// values and one f32 scale per row of its last dimension (per output
// channel), every other parameter as it is, and quantization.json saying
// how to dequantize: weight = int8 * scale[row]. The values are the ones
// the training step's fake quantization computes, so the dequantized
// weights are its weights exactly.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_INT8_EXPORT_H
#define DSV3_RUNTIME_INT8_EXPORT_H

#include "trainer.h"

#include <string>

namespace dsv3::runtime {

/// The executable's int8-quantized parameters, counted.
int countInt8Weights(const Executable &exe);

/// Checks that `dir` can take an export without replacing anything: an
/// empty directory, or one it creates.
Status checkExportDirectory(const std::string &dir);

/// Writes `dir`/model.safetensors and `dir`/quantization.json (and the
/// model's config.json, when it has one) from the trainer's parameters.
Status exportInt8(const Trainer &trainer, const std::string &dir,
                  int64_t step);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_INT8_EXPORT_H
