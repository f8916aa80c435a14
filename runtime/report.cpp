//===- report.cpp - the report at the end of a training run ---------------===//

#include "report.h"

#include "cpu_gemm.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace dsv3::runtime {

double measureCpuGemmPeak() {
  constexpr int64_t n = 1024;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  double best = 0;
  for (int run = 0; run < 6; ++run) {
    auto start = std::chrono::steady_clock::now();
    gemm(false, false, 1, n, n, n, a.data(), 0, b.data(), 0, c.data(), 0);
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    // The first run warms the library's threads up.
    if (run > 0 && seconds > 0)
      best = std::max(best, 2.0 * n * n * n / seconds);
  }
  return best;
}

void printRunReport(std::FILE *out, const Executable &exe,
                    const RunReport &r) {
  if (r.profiledSteps > 0 &&
      static_cast<int>(r.commandSeconds.size()) == exe.commands_size()) {
    double steps = static_cast<double>(r.profiledSteps);
    std::map<std::string, double> byCategory = {
        {"kernel", 0},     {"gemm", 0},      {"attention", 0},
        {"copy", 0},       {"collective", 0}};
    std::map<std::string, int> counts;
    double total = 0;
    for (int i = 0; i < exe.commands_size(); ++i) {
      const char *category = commandCategory(exe.commands(i));
      byCategory[category] += r.commandSeconds[i] / steps;
      ++counts[category];
      total += r.commandSeconds[i] / steps;
    }
    std::fprintf(out, "time per step by command (%s, %lld step%s): %.1f ms\n",
                 r.timing.c_str(), static_cast<long long>(r.profiledSteps),
                 r.profiledSteps == 1 ? "" : "s", total * 1e3);
    static const std::pair<const char *, const char *> kCategories[] = {
        {"kernel", "kernels"},
        {"gemm", "gemms"},
        {"attention", "attention"},
        {"copy", "copies"},
        {"collective", "collectives"}};
    for (const auto &[category, plural] : kCategories) {
      double s = byCategory[category];
      std::fprintf(out, "  %-11s %8.2f ms  %5.1f%%  %4d command%s\n", plural,
                   s * 1e3, total > 0 ? 100 * s / total : 0.0,
                   counts[category], counts[category] == 1 ? "" : "s");
    }
    std::vector<int> order(exe.commands_size());
    for (int i = 0; i < exe.commands_size(); ++i)
      order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
      return r.commandSeconds[x] > r.commandSeconds[y];
    });
    std::fprintf(out, "slowest commands (per step):\n");
    for (size_t k = 0; k < std::min<size_t>(10, order.size()); ++k) {
      int i = order[k];
      double s = r.commandSeconds[i] / steps;
      const Command &c = exe.commands(i);
      char flops[48] = "";
      if (c.flops() > 0 && s > 0)
        std::snprintf(flops, sizeof(flops), "  %.2f GFLOP/s",
                      c.flops() / s / 1e9);
      std::fprintf(out, "  %2zu. %8.3f ms  %5.1f%%  command %d: %s%s\n", k + 1,
                   s * 1e3, total > 0 ? 100 * s / total : 0.0, i,
                   commandName(exe, c).c_str(), flops);
    }
  }
  if (r.stepSeconds > 0 && r.peakFlops > 0) {
    double achieved = exe.flops_per_step() / r.stepSeconds;
    std::fprintf(out, "MFU %.1f%%: %.3f TFLOP/s of a %.3f TFLOP/s peak (%s)\n",
                 100 * achieved / r.peakFlops, achieved / 1e12,
                 r.peakFlops / 1e12, r.peakSource.c_str());
  } else {
    std::fprintf(out, "MFU: no peak known (%s)\n", r.peakSource.c_str());
  }
}

} // namespace dsv3::runtime
