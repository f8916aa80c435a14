//===- RandomData.h - random operands for the runtime's tests ---*- C++ -*-===//

#ifndef DSV3_TEST_UNIT_RUNTIME_RANDOMDATA_H
#define DSV3_TEST_UNIT_RUNTIME_RANDOMDATA_H

#include <cstddef>
#include <random>
#include <vector>

namespace dsv3::test {

/// `n` draws of N(0, 1), the same for the same seed.
inline std::vector<float> random(size_t n, int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

} // namespace dsv3::test

#endif // DSV3_TEST_UNIT_RUNTIME_RANDOMDATA_H
