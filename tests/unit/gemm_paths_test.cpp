// sgemm / parallel_sgemm against a double-precision reference, one table row per shape: row and
// column tails of the register tiles, small and large K, transposed operands (the Eigen path)
// and products large enough to be split over threads. A and B end right before an unreadable
// page, so a kernel that reads past either one crashes the test.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "onnx_builder.hpp"
#include "sim/ops/gemm_kernel.hpp"

namespace mpq {
namespace {

struct GemmRow {
  const char* name;
  std::int64_t m, n, k;
  bool ta, tb;
};

const GemmRow kRows[] = {
    {"vit_linear", 98, 64, 64, false, false},
    {"vit_mlp_up", 49, 128, 64, false, false},
    {"narrow_tail", 9, 10, 33, false, false},
    {"tail_after_panel", 17, 50, 20, false, false},
    {"single_row", 1, 100, 7, false, false},
    {"one_column", 13, 1, 5, false, false},
    {"k_512", 11, 48, 512, false, false},
    {"k_513_eigen", 11, 48, 513, false, false},
    {"wide", 20, 200, 64, false, false},
    {"trans_b", 32, 128, 96, false, true},
    {"trans_a", 12, 40, 24, true, false},
    {"split_rows", 300, 64, 64, false, false},
    {"split_cols", 24, 300, 32, false, false},
    // Few rows times a transposed B (Gemm transB at small batch): the dot-product path.
    {"fc_batch8", 8, 128, 1152, false, true},
    {"fc_tails", 3, 10, 37, false, true},
    {"fc_k16", 16, 7, 16, false, true},
    {"fc_split_cols", 5, 300, 200, false, true},
    {"fc_17_rows_eigen", 17, 20, 40, false, true},
};

// n floats ending exactly where a PROT_NONE page begins.
class GuardedFloats {
 public:
  explicit GuardedFloats(const std::vector<float>& v) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t bytes = v.size() * sizeof(float);
    len_ = (bytes + page - 1) / page * page + page;
    base_ = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(base_, MAP_FAILED);
    char* guard = static_cast<char*>(base_) + len_ - page;
    EXPECT_EQ(mprotect(guard, page, PROT_NONE), 0);
    data_ = reinterpret_cast<float*>(guard - bytes);
    std::memcpy(data_, v.data(), bytes);
  }
  ~GuardedFloats() { munmap(base_, len_); }
  GuardedFloats(const GuardedFloats&) = delete;
  GuardedFloats& operator=(const GuardedFloats&) = delete;
  const float* data() const { return data_; }

 private:
  void* base_ = nullptr;
  std::size_t len_ = 0;
  float* data_ = nullptr;
};

class GemmPaths : public ::testing::TestWithParam<GemmRow> {};

TEST_P(GemmPaths, MatchesTheReference) {
  const GemmRow& r = GetParam();
  const auto a = test::random_values(static_cast<std::size_t>(r.m * r.k), 1);
  const auto b = test::random_values(static_cast<std::size_t>(r.k * r.n), 2);
  const GuardedFloats ga(a), gb(b);
  const gemm::MatRef A{ga.data(), r.ta ? r.m : r.k, r.ta};
  const gemm::MatRef B{gb.data(), r.tb ? r.k : r.n, r.tb};
  std::vector<double> ref(static_cast<std::size_t>(r.m * r.n), 0.0);
  for (std::int64_t i = 0; i < r.m; ++i)
    for (std::int64_t j = 0; j < r.n; ++j)
      for (std::int64_t k = 0; k < r.k; ++k)
        ref[static_cast<std::size_t>(i * r.n + j)] +=
            static_cast<double>(a[static_cast<std::size_t>(r.ta ? k * r.m + i : i * r.k + k)]) *
            b[static_cast<std::size_t>(r.tb ? j * r.k + k : k * r.n + j)];
  const double tol = 4e-7 * static_cast<double>(r.k + 1);
  // beta 1 adds the product to C's values (a Gemm's bias), beta 0 ignores them (NaN here).
  const auto c0 = test::random_values(ref.size(), 3);
  for (const bool parallel : {false, true})
    for (const float beta : {0.0f, 1.0f}) {
      std::vector<float> c(ref.size(), std::nanf(""));
      if (beta != 0.0f) c.assign(c0.begin(), c0.end());
      if (parallel)
        gemm::parallel_sgemm(r.m, r.n, r.k, 1.0f, A, B, beta, c.data(), r.n);
      else
        gemm::sgemm(r.m, r.n, r.k, 1.0f, A, B, beta, c.data(), r.n);
      for (std::size_t e = 0; e < c.size(); ++e)
        ASSERT_NEAR(c[e], ref[e] + beta * c0[e], tol)
            << r.name << (parallel ? " parallel" : "") << " beta " << beta << ", element " << e;
    }
}

INSTANTIATE_TEST_SUITE_P(Rows, GemmPaths, ::testing::ValuesIn(kRows),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mpq
