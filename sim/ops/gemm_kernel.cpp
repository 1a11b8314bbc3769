// GCC 12 flags Eigen's AVX-512 packet transposes (gemm_pack_lhs/rhs) as maybe-uninitialized:
// a known false positive inside Eigen, silenced for this translation unit only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "sim/ops/gemm_kernel.hpp"

#include <algorithm>
#include <vector>

#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <Eigen/Core>
#include <Eigen/Dense>

#if defined(__AVX512F__)
#include "sim/ops/conv_micro.hpp"
#endif

namespace mpq::gemm {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat, Eigen::Unaligned, Eigen::OuterStride<>>;
using MutMap = Eigen::Map<RowMat, Eigen::Unaligned, Eigen::OuterStride<>>;

// Products below this many flops are not worth a TBB fork.
constexpr double kMinParallelFlops = 4e5;

template <class L, class R>
void product(const L& a, const R& b, float alpha, float beta, MutMap c) {
  if (beta == 0.0f)
    c.noalias() = alpha * (a * b);
  else {
    if (beta != 1.0f) c *= beta;
    c.noalias() += alpha * (a * b);
  }
}

#if defined(__AVX512F__)
// C = A * B for untransposed operands with K <= 512, on the conv micro-kernels (6 x 64 or
// 8 x 48 tiles in registers), A and B read in place: Eigen packs both operands every call,
// which costs as much as the product itself when K is small (a transformer's 64-wide layers).
// Each output is one sum over k in order. B panels narrower than 16 lanes at the right edge
// are copied into a zero-padded scratch, since the kernels load whole vectors of B.
bool small_k_sgemm(std::int64_t M, std::int64_t N, std::int64_t K, MatRef A, MatRef B, float* C,
                   std::int64_t ldc) {
  using convk::kMR;
  if (A.trans || B.trans || K > 512) return false;
  const std::int64_t full = N / 16 * 16;
  float* tail = nullptr;
  if (full < N) {
    tail = thread_scratch(static_cast<std::size_t>(K * 16), 3);
    for (std::int64_t k = 0; k < K; ++k) {
      std::fill(tail + k * 16, tail + k * 16 + 16, 0.0f);
      std::copy(B.p + k * B.ld + full, B.p + k * B.ld + N, tail + k * 16);
    }
  }
  std::int64_t n0 = 0;
  for (; n0 + 64 <= full; n0 += 64)
    for (std::int64_t m0 = 0; m0 < M; m0 += convk::kWideMR) {
      const std::int64_t mr = std::min<std::int64_t>(convk::kWideMR, M - m0);
      convk::kMicroWideInPlace[static_cast<std::size_t>(mr - 1)](
          K, A.p + m0 * A.ld, A.ld, B.p + n0, B.ld, nullptr, convk::Init::Zero, nullptr, nullptr,
          C + m0 * ldc + n0, ldc, 64);
    }
  while (n0 < N) {
    // 64-column panels first (above), then 48-column ones over the whole vectors, then the
    // padded tail.
    const std::int64_t w = n0 < full ? std::min<std::int64_t>(48, full - n0) : N - n0;
    const bool padded = n0 >= full;
    const float* b = padded ? tail : B.p + n0;
    const std::int64_t ldb = padded ? 16 : B.ld;
    const auto fns = convk::kMicroInPlace;
    for (std::int64_t m0 = 0; m0 < M; m0 += kMR) {
      const std::int64_t mr = std::min<std::int64_t>(kMR, M - m0);
      fns[static_cast<std::size_t>(mr - 1)][static_cast<std::size_t>((w + 15) / 16 - 1)](
          K, A.p + m0 * A.ld, A.ld, b, ldb, nullptr, convk::Init::Zero, nullptr, nullptr,
          C + m0 * ldc + n0, ldc, static_cast<int>(w));
    }
    n0 += w;
  }
  return true;
}

// C = A * B (+ C when accumulate) for a few rows of A and a transposed B (a batch of vectors
// through a Gemm with transB, a Linear layer's [N x K] weights): dot products along K with both
// operands read in place. Eigen packs the whole weight matrix on every call, which at batch 8 costs
// more than the product (a Gemm's bias arrives as C, accumulate). Tiles of 4 x 4 outputs; rows and
// columns past the edges repeat the last ones and are not stored. Each output sums lane l over k =
// l mod 16 in order, then its 16 lanes.
bool small_m_sgemm(std::int64_t M, std::int64_t N, std::int64_t K, MatRef A, MatRef B, float* C,
                   std::int64_t ldc, bool accumulate) {
  if (A.trans || !B.trans || M > 16 || K < 16) return false;
  constexpr int kT = 4;
  const __mmask16 last = convk::lanes_below(K - (K - 1) / 16 * 16);
  for (std::int64_t n0 = 0; n0 < N; n0 += kT)
    for (std::int64_t m0 = 0; m0 < M; m0 += kT) {
      const float* a[kT];
      const float* b[kT];
      for (int t = 0; t < kT; ++t) {
        a[t] = A.p + std::min<std::int64_t>(m0 + t, M - 1) * A.ld;
        b[t] = B.p + std::min<std::int64_t>(n0 + t, N - 1) * B.ld;
      }
      __m512 acc[kT][kT];
      for (auto& row : acc)
        for (auto& v : row) v = _mm512_setzero_ps();
      for (std::int64_t k = 0; k < K; k += 16) {
        const __mmask16 m = k + 16 <= K ? __mmask16{0xffff} : last;
        __m512 av[kT], bv[kT];
        for (int t = 0; t < kT; ++t) {
          av[t] = _mm512_maskz_loadu_ps(m, a[t] + k);
          bv[t] = _mm512_maskz_loadu_ps(m, b[t] + k);
        }
        for (int i = 0; i < kT; ++i)
          for (int j = 0; j < kT; ++j) acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
      }
      for (int i = 0; i < kT && m0 + i < M; ++i)
        for (int j = 0; j < kT && n0 + j < N; ++j) {
          float& c = C[(m0 + i) * ldc + n0 + j];
          const float dot = _mm512_mask_reduce_add_ps(0xffff, acc[i][j]);
          c = accumulate ? c + dot : dot;
        }
    }
  return true;
}
#endif

}  // namespace

void sgemm(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, MatRef A, MatRef B,
           float beta, float* C, std::int64_t ldc) {
  if (M <= 0 || N <= 0) return;
#if defined(__AVX512F__)
  if (K > 0 && alpha == 1.0f && beta == 0.0f && small_k_sgemm(M, N, K, A, B, C, ldc)) return;
  if (K > 0 && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) &&
      small_m_sgemm(M, N, K, A, B, C, ldc, beta == 1.0f))
    return;
#endif
  MutMap c(C, M, N, Eigen::OuterStride<>(ldc));
  if (K <= 0) {
    if (beta == 0.0f)
      c.setZero();
    else
      c *= beta;
    return;
  }
  // Maps of the stored (untransposed) matrices; transposition is a free Eigen view.
  const ConstMap a(A.p, A.trans ? K : M, A.trans ? M : K, Eigen::OuterStride<>(A.ld));
  const ConstMap b(B.p, B.trans ? N : K, B.trans ? K : N, Eigen::OuterStride<>(B.ld));
  if (!A.trans && !B.trans)
    product(a, b, alpha, beta, c);
  else if (!A.trans)
    product(a, b.transpose(), alpha, beta, c);
  else if (!B.trans)
    product(a.transpose(), b, alpha, beta, c);
  else
    product(a.transpose(), b.transpose(), alpha, beta, c);
}

namespace {

// Rows [0, m) x columns [0, n) of C, whose column 0 is column `col0` of the whole product. The
// hooks run once over the block when its rows are contiguous (calls per 64-float row cost more
// than the quantization itself).
void apply_epilogue(const Epilogue& e, std::int64_t m, std::int64_t n, std::int64_t col0, float* C,
                    std::int64_t ldc) {
  if (e.empty()) return;
  const bool whole = ldc == n;
  const auto hook = [&](const std::function<void(std::span<float>)>* h) {
    if (!h) return;
    if (whole) return (*h)(std::span<float>(C, static_cast<std::size_t>(m * n)));
    for (std::int64_t i = 0; i < m; ++i)
      (*h)(std::span<float>(C + i * ldc, static_cast<std::size_t>(n)));
  };
  if (e.scale) {
    if (whole) Eigen::Map<Eigen::ArrayXf>(C, m * n) *= *e.scale;
    for (std::int64_t i = 0; !whole && i < m; ++i)
      Eigen::Map<Eigen::ArrayXf>(C + i * ldc, n) *= *e.scale;
  }
  hook(e.before_bias);
#if defined(__AVX512F__)
  if (e.col_bias && !e.clamp) {
    // The bias rows by hand: Eigen's per-row setup cost more than the adds on 64-wide rows (a
    // ViT's projections: 4 % of its run).
    const float* b = e.col_bias + col0;
    for (std::int64_t i = 0; i < m; ++i) {
      float* row = C + i * ldc;
      std::int64_t j = 0;
      for (; j + 16 <= n; j += 16)
        _mm512_storeu_ps(row + j, _mm512_add_ps(_mm512_loadu_ps(row + j), _mm512_loadu_ps(b + j)));
      if (j < n) {
        const __mmask16 k = convk::lanes_below(n - j);
        _mm512_mask_storeu_ps(
            row + j, k,
            _mm512_add_ps(_mm512_maskz_loadu_ps(k, row + j), _mm512_maskz_loadu_ps(k, b + j)));
      }
    }
    hook(e.after);
    return;
  }
#endif
  if (e.col_bias || e.clamp)
    for (std::int64_t i = 0; i < m; ++i) {
      Eigen::Map<Eigen::ArrayXf> row(C + i * ldc, n);
      if (e.col_bias) row += Eigen::Map<const Eigen::ArrayXf>(e.col_bias + col0, n);
      if (e.clamp) row = row.max(e.lo).min(e.hi);
    }
  hook(e.after);
}

}  // namespace

void parallel_sgemm(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, MatRef A, MatRef B,
                    float beta, float* C, std::int64_t ldc, const Epilogue& epi) {
  const double flops =
      2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  // Split the larger side of C: every block then re-packs only the smaller operand.
  const bool split_cols = N >= M;
  const std::int64_t len = split_cols ? N : M;
  // The blocks never depend on the thread count: Eigen's K-blocking depends on the block's
  // shape, so thread-dependent blocks would give thread-dependent rounding.
  constexpr std::int64_t kStep = 64;
  if (flops < kMinParallelFlops || len < 2 * kStep) {
    sgemm(M, N, K, alpha, A, B, beta, C, ldc);
    apply_epilogue(epi, M, N, 0, C, ldc);
    return;
  }
  const std::int64_t n_blocks = (len + kStep - 1) / kStep;
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, n_blocks, 1),
      [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t blk = r.begin(); blk != r.end(); ++blk) {
          const std::int64_t lo = blk * kStep, n = std::min(kStep, len - lo);
          if (split_cols) {
            sgemm(M, n, K, alpha, A, B.at(0, lo), beta, C + lo, ldc);
            apply_epilogue(epi, M, n, lo, C + lo, ldc);
          } else {
            sgemm(n, N, K, alpha, A.at(lo, 0), B, beta, C + lo * ldc, ldc);
            apply_epilogue(epi, n, N, 0, C + lo * ldc, ldc);
          }
        }
      },
      tbb::static_partitioner());
}

int num_threads() {
  return tbb::this_task_arena::max_concurrency();
}

float* thread_scratch(std::size_t n, int slot) {
  thread_local std::vector<float, Eigen::aligned_allocator<float>> bufs[4];
  auto& b = bufs[slot & 3];
  if (b.size() < n) b.resize(n);
  return b.data();
}

}  // namespace mpq::gemm
