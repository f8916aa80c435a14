//===- SpecOptions.h - a description's compile {} as pipeline options -*- C++ -*-===//
//
// The one mapping from a ModelSpec's `compile {}` block to the options of
// dsv3-train-pipeline, and back from an option to the field that set it,
// so that a refused setting is reported where the user wrote it.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_PIPELINES_SPECOPTIONS_H
#define DSV3_PIPELINES_SPECOPTIONS_H

#include "Pipelines/Pipelines.h"
#include "Spec/model_spec.pb.h"

#include <string>

namespace mlir::dsv3 {

/// Sets every option of `options` that `compile` has a field for.
void applyCompileSettings(const ::dsv3::spec::Compile &compile,
                          TrainPipelineOptions &options);

/// The `compile` field an option (refused with `value`) comes from
/// ("remat" -> "compile.remat"), or "" when none does.
std::string compileFieldOf(StringRef option, StringRef value);

/// The value of that field as the description spells it ("SQRT", "2",
/// "true").
std::string compileValueOf(const ::dsv3::spec::Compile &compile,
                           StringRef option, StringRef refusedValue);

} // namespace mlir::dsv3

#endif // DSV3_PIPELINES_SPECOPTIONS_H
