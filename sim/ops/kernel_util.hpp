#pragma once
// Small helpers shared by the conv / gemm / pool kernels.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "graph/tensor.hpp"

namespace mpq {

// Makes `t` a float tensor of shape `s` for a kernel that writes every element. Storage reused
// from the previous run is kept as is: Tensor::allocate would zero it first, a full extra pass
// over every output (a quarter of the run time of small CNNs at batch 32).
inline void shape_float_output(Tensor& t, Shape s) {
  if (t.dtype == DType::Float32 && t.i.empty() &&
      static_cast<std::int64_t>(t.f.size()) == numel(s)) {
    t.shape = std::move(s);
    return;
  }
  t.dtype = DType::Float32;
  t.allocate(std::move(s));
}

// Fetches n floats at p into L1: input read once and usually not in cache (a plane, a few
// rows), fetched while the previous one is consumed. The hardware prefetchers fall behind on
// such short streams: pooling ResNet-18's stem output ran 1.4x faster with this. [p, p + n)
// must lie inside one buffer.
inline void prefetch_plane([[maybe_unused]] const float* p, [[maybe_unused]] std::int64_t n) {
#if defined(__AVX512F__)
  for (std::int64_t e = 0; e < n; e += 16)
    _mm_prefetch(reinterpret_cast<const char*>(p + e), _MM_HINT_T0);
#endif
}

#if defined(__AVX512F__)
// Lanes [0, n) of a 16-float vector: none when n <= 0, all 16 when n >= 16 (tail masks).
inline __mmask16 lanes_below(std::int64_t n) {
  return static_cast<__mmask16>((1u << std::clamp<std::int64_t>(n, 0, 16)) - 1u);
}

// 16 x 16 transpose of r[0..16) in place: lane j of r[i] becomes lane i of r[j].
inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
}
#endif

// n floats owned by the calling thread and reused across calls, one buffer per Owner tag (a
// fresh multi-MB vector per call costs page faults on every run). A nested use on the same
// thread (a TBB worker that picks up another op's task while waiting) gets its own vector.
template <class Owner>
class ThreadBuffer {
 public:
  explicit ThreadBuffer(std::size_t n) {
    if (!busy()) {
      busy() = true;
      owner_ = true;
      if (shared().size() < n) shared().resize(n);
      data_ = shared().data();
    } else {
      own_.resize(n);
      data_ = own_.data();
    }
  }
  ~ThreadBuffer() {
    if (owner_) busy() = false;
  }
  ThreadBuffer(const ThreadBuffer&) = delete;
  ThreadBuffer& operator=(const ThreadBuffer&) = delete;
  float* data() const { return data_; }

 private:
  static std::vector<float>& shared() {
    thread_local std::vector<float> v;
    return v;
  }
  static bool& busy() {
    thread_local bool b = false;
    return b;
  }
  std::vector<float> own_;
  float* data_ = nullptr;
  bool owner_ = false;
};

// The 2x2 stride-2 max pool (no padding, last odd row / column dropped) of `planes` H x W
// planes: the MaxPool kernel's own loop (pool.cpp), for a MaxPool folded into a Conv whose path
// cannot pool as it stores (conv.cpp).
void max_pool_2x2(const float* x, std::int64_t planes, std::int64_t H, std::int64_t W, float* y);

}  // namespace mpq
