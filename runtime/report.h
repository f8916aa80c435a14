//===- report.h - the report at the end of a training run -------*- C++ -*-===//
//
// Where a step's time went (per command category and the slowest
// commands) and the model FLOPs utilization against a stated peak.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_REPORT_H
#define DSV3_RUNTIME_REPORT_H

#include "executable.h"

#include <cstdio>
#include <string>
#include <vector>

namespace dsv3::runtime {

/// The best rate of a 1024^3 f32 GEMM through the CPU backend's BLAS, with
/// its threads, in FLOP/s: the CPU peak MFU is measured against.
double measureCpuGemmPeak();

struct RunReport {
  /// Seconds per command summed over `profiledSteps` steps.
  std::vector<double> commandSeconds;
  int64_t profiledSteps = 0;
  /// How the steps were timed, e.g. "every step" (for the heading).
  std::string timing;
  /// Mean seconds per step of the whole run (for MFU).
  double stepSeconds = 0;
  /// FLOP/s the model's FLOPs are divided by, and where it comes from; 0
  /// when unknown.
  double peakFlops = 0;
  std::string peakSource;
};

/// Prints the report: time per category, the ten slowest commands, MFU.
void printRunReport(std::FILE *out, const Executable &exe,
                    const RunReport &report);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_REPORT_H
