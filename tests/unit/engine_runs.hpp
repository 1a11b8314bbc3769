#pragma once
// Running a prepared network through one Engine, folds on or off, and comparing results bit for
// bit: the checks of the fold tests (fusion_test.cpp, transpose_fold_test.cpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/engine.hpp"

namespace mpq::test {

inline std::vector<Tensor> run(const Network& net, const std::vector<Tensor>& in, bool fusion) {
  auto e = Engine::create(net);
  EXPECT_TRUE(e.ok()) << e.error().message;
  e->set_fusion(fusion);
  auto out = e->run(in);
  EXPECT_TRUE(out.ok()) << out.error().message;
  return std::move(out).value();
}

inline void expect_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b,
                             const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].shape, b[k].shape) << what;
    EXPECT_EQ(a[k].f, b[k].f) << what << ", output " << k;
  }
}

}  // namespace mpq::test
