#pragma once
// Float GEMM building blocks shared by Conv, ConvTranspose, Gemm and MatMul: Eigen's
// single-threaded SGEMM over row-major views, and a TBB split of one product over threads.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace mpq::gemm {

// Row-major operand view: logical element (r, c) is p[r * ld + c], or p[c * ld + r] if trans.
struct MatRef {
  const float* p = nullptr;
  std::int64_t ld = 0;
  bool trans = false;

  // The view starting at logical element (r, c).
  MatRef at(std::int64_t r, std::int64_t c) const {
    return {trans ? p + c * ld + r : p + r * ld + c, ld, trans};
  }
};

// C[M x N] (row stride ldc) = alpha * A[M x K] * B[K x N] + beta * C on the calling thread.
// beta == 0 overwrites C (its old contents may be garbage).
void sgemm(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, MatRef A, MatRef B,
           float beta, float* C, std::int64_t ldc);

// Applied to each block of C right after its product, while it is in cache: C[i, j] *= scale,
// += col_bias[j], then clamped to [lo, hi] (each when set). Ops a following Mul by a scalar, Add
// of a bias vector or Relu/Clip was folded into.
struct Epilogue {
  const float* scale = nullptr;  // C[i, j] *= *scale before all else (a folded Mul)
  const std::function<void(std::span<float>)>* before_bias = nullptr;  // on each row first
  const float* col_bias = nullptr;
  bool clamp = false;
  float lo = 0.0f, hi = 0.0f;
  const std::function<void(std::span<float>)>* after = nullptr;  // on each row last
  bool empty() const {
    return scale == nullptr && before_bias == nullptr && col_bias == nullptr && !clamp &&
           after == nullptr;
  }
};

// The same product split over TBB threads by row or column blocks of C when it is large enough
// to pay for the fork; each block is one single-threaded sgemm.
void parallel_sgemm(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, MatRef A, MatRef B,
                    float beta, float* C, std::int64_t ldc, const Epilogue& epi = {});

// Worker threads of the current TBB arena.
int num_threads();

// A per-thread scratch buffer of at least n floats, grown on demand and reused across calls.
// Slots 0 to 3 are independent buffers. Only valid until the calling task next enters a TBB
// parallel algorithm (a waiting thread may run another task that reuses the same buffer).
float* thread_scratch(std::size_t n, int slot = 0);

}  // namespace mpq::gemm
