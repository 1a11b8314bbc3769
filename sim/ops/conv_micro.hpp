#pragma once
// AVX-512 register-blocked micro-kernels and W packing shared by the two GEMM conv paths
// (conv_gemm.cpp: explicit im2col panels; conv_implicit.cpp: shifted rows of a padded input).
// Included only when __AVX512F__ is defined.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <tbb/parallel_for.h>

#include "sim/ops/conv_common.hpp"
#include "sim/ops/conv_phase.hpp"
#include "sim/ops/kernel_util.hpp"

namespace mpq::convk {

using I64 = std::int64_t;

inline constexpr int kNR = 48;  // panel width: 3 zmm of output pixels
inline constexpr int kMR = 8;   // output channels per tile

enum class Init { Bias, Zero, Load };

template <int MR, int NV>
inline void clamp_tile(__m512 (&acc)[MR][NV], const float* clip) {
  const __m512 lo = _mm512_set1_ps(clip[0]), hi = _mm512_set1_ps(clip[1]);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[m][v] = clamp_ps(acc[m][v], lo, hi);
}

// C[0..MR) x [0..16*NV) (row stride ldc) <- init + A * B[K x 16NV] (row stride ldb), plus R
// (same layout as C) when R is not null, then clamped to clip[0..1] when clip is not null. A
// is packed k-major (A[k * MR + m]: one pointer, immediate offsets) when kPacked, else read in
// place from W rows (A[m * lda + k]). Lanes at or past `valid` columns are neither loaded from
// C nor stored.
// The loops over MR and NV are unrolled by pragma: GCC 12 otherwise kept the accumulators on
// the stack outside the k loop (48 moves a call: MobileNet's K = 16 expand conv ran at half
// the FMA peak, 0.098 -> 0.078 ms at batch 8).
template <int MR, int NV, bool kPacked>
void micro(I64 K, const float* A, I64 lda, const float* B, I64 ldb, const float* bias, Init init,
           const float* clip, const float* R, float* C, I64 ldc, int valid) {
  __m512 acc[MR][NV];
  __mmask16 mask[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) mask[v] = lanes_below(valid - 16 * v);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (init == Init::Load)
        acc[m][v] = _mm512_maskz_loadu_ps(mask[v], C + m * ldc + 16 * v);
      else
        acc[m][v] = init == Init::Bias && bias ? _mm512_set1_ps(bias[m]) : _mm512_setzero_ps();
    }
  for (I64 k = 0; k < K; ++k) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_ps(B + k * ldb + 16 * v);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m512 a = _mm512_set1_ps(kPacked ? A[k * MR + m] : A[m * lda + k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = _mm512_fmadd_ps(a, b[v], acc[m][v]);
    }
  }
  if (R)
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[m][v] = _mm512_add_ps(acc[m][v], _mm512_maskz_loadu_ps(mask[v], R + m * ldc + 16 * v));
  if (clip) clamp_tile<MR, NV>(acc, clip);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(C + m * ldc + 16 * v, mask[v], acc[m][v]);
}

using MicroFn = void (*)(I64, const float*, I64, const float*, I64, const float*, Init,
                         const float*, const float*, float*, I64, int);
using MicroTable = std::array<std::array<MicroFn, 3>, kMR>;  // [mr - 1][nv - 1]

template <int MR, bool kPacked>
constexpr std::array<MicroFn, 3> row_of() {
  return {micro<MR, 1, kPacked>, micro<MR, 2, kPacked>, micro<MR, 3, kPacked>};
}
template <bool kPacked>
constexpr MicroTable table_of() {
  return {row_of<1, kPacked>(), row_of<2, kPacked>(), row_of<3, kPacked>(), row_of<4, kPacked>(),
          row_of<5, kPacked>(), row_of<6, kPacked>(), row_of<7, kPacked>(), row_of<8, kPacked>()};
}
inline constexpr MicroTable kMicroPacked = table_of<true>();
inline constexpr MicroTable kMicroInPlace = table_of<false>();
// 64-column tiles of up to 6 rows (24 accumulators), A read in place: sgemm's panels of
// products whose width is a multiple of 64 (one broadcast of A feeds four FMAs, not two).
inline constexpr int kWideMR = 6;
inline constexpr std::array<MicroFn, kWideMR> kMicroWideInPlace = {
    micro<1, 4, false>, micro<2, 4, false>, micro<3, 4, false>,
    micro<4, 4, false>, micro<5, 4, false>, micro<6, 4, false>};

// Implicit-GEMM variant: B row k starts at B + off[k] (a shifted row of the padded input); all
// 16 * NV lanes are read, so B needs that much slack past its last row. Output lanes are the
// cmask lanes of each vector, stored compressed (junk columns of the padded width dropped) at
// C + m * ldc + yoff[v]; smask has popcount(cmask) low bits. R (same layout as C) is added
// before the clamp when not null. A is packed k-major.
struct PanelStore {
  __mmask16 cmask[3], smask[3];
  I64 yoff[3];
};

template <int MR, int NV>
void micro_implicit(I64 K, const float* A, const float* B, const std::int32_t* off,
                    const PanelStore& ps, const float* bias, Init init, const float* clip,
                    const float* R, float* C, I64 ldc) {
  // Masks are only used outside the k loop: masked loads inside it make GCC 12 spill the
  // accumulators. Loops unrolled by pragma, as in micro.
  __mmask16 cm[NV], sm[NV];
  I64 yo[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    cm[v] = ps.cmask[v];
    sm[v] = ps.smask[v];
    yo[v] = ps.yoff[v];
  }
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (init == Init::Load)
        acc[m][v] =
            _mm512_maskz_expand_ps(cm[v], _mm512_maskz_loadu_ps(sm[v], C + m * ldc + yo[v]));
      else
        acc[m][v] = init == Init::Bias && bias ? _mm512_set1_ps(bias[m]) : _mm512_setzero_ps();
    }
  for (I64 k = 0; k < K; ++k) {
    const float* bk = B + off[k];
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_ps(bk + 16 * v);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m512 a = _mm512_set1_ps(A[k * MR + m]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = _mm512_fmadd_ps(a, b[v], acc[m][v]);
    }
  }
  if (R)
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[m][v] = _mm512_add_ps(
            acc[m][v],
            _mm512_maskz_expand_ps(cm[v], _mm512_maskz_loadu_ps(sm[v], R + m * ldc + yo[v])));
  if (clip) clamp_tile<MR, NV>(acc, clip);
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(C + m * ldc + yo[v], sm[v], _mm512_maskz_compress_ps(cm[v], acc[m][v]));
}

using ImplicitFn = void (*)(I64, const float*, const float*, const std::int32_t*, const PanelStore&,
                            const float*, Init, const float*, const float*, float*, I64);
using ImplicitTable = std::array<std::array<ImplicitFn, 3>, kMR>;  // [mr - 1][nv - 1]

template <int MR>
constexpr std::array<ImplicitFn, 3> implicit_row() {
  return {micro_implicit<MR, 1>, micro_implicit<MR, 2>, micro_implicit<MR, 3>};
}
inline constexpr ImplicitTable kMicroImplicit = {
    implicit_row<1>(), implicit_row<2>(), implicit_row<3>(), implicit_row<4>(),
    implicit_row<5>(), implicit_row<6>(), implicit_row<7>(), implicit_row<8>()};

// W repacked per 8-row panel, k-major: rows [r, r + mr) of group `grp` (r a multiple of 8,
// mr = min(8, mg - r)) start at (grp * mg + r) * K and hold (k, i) at k * mr + i, so a K block
// [k0, k0 + kc) of a panel is contiguous at + k0 * mr.
inline void pack_weights(const float* w, I64 G, I64 mg, I64 K, float* wp) {
  const I64 row_panels = (mg + kMR - 1) / kMR;
  tbb::parallel_for(I64{0}, G * row_panels, [&](I64 t) {
    const I64 r = t % row_panels * kMR, mr = std::min<I64>(kMR, mg - r);
    const float* src = w + (t / row_panels * mg + r) * K;
    float* dst = wp + (t / row_panels * mg + r) * K;
    for (I64 k = 0; k < K; ++k)
      for (I64 i = 0; i < mr; ++i) dst[k * mr + i] = src[i * K + k];
  });
}

// Buffer for one call's repacked W (ThreadBuffer).
using PackedWeights = ThreadBuffer<struct PackedWeightsOwner>;

// One call's derived weights (repacked panels, transforms): n floats that fill(dst) writes.
// With the step's cache (g.derived) they are built once and reused by later calls while `key`
// (the path and the layout's sizes) matches; without one, each call builds them in a
// PackedWeights buffer.
class DerivedPanels {
 public:
  template <class Fill>
  DerivedPanels(const ConvGeometry& g, const float* w, std::array<I64, 3> sizes, int path,
                std::size_t n, Fill fill) {
    if (n == 0) return;
    if (!g.derived) {
      scratch_.emplace(n);
      fill(scratch_->data());
      data_ = scratch_->data();
      return;
    }
    const std::array<std::int64_t, 4> key{path, sizes[0], sizes[1], sizes[2]};
    auto& entries = g.derived->entries;
    for (const DerivedWeights::Entry& e : entries)
      if (e.source == w && e.key == key && e.data.size() == n) {
        data_ = e.data.data();
        return;
      }
    if (entries.size() >= DerivedWeights::kMaxEntries) entries.erase(entries.begin());
    DerivedWeights::Entry& e = entries.emplace_back();
    e.data.resize(n);
    fill(e.data.data());
    e.source = w;
    e.key = key;
    data_ = e.data.data();
  }
  const float* data() const { return data_; }

 private:
  std::optional<PackedWeights> scratch_;
  const float* data_ = nullptr;
};
// Path numbers for DerivedPanels keys (pack_weights' layout is shared by two paths).
inline constexpr int kPanelsPackWeights = 0, kPanelsWinograd = 1, kPanelsChannelLanes = 2;

// A worker thread's copy of one (image, group) input of one conv call (phase planes, a padded
// copy), kept across that call's tasks so consecutive tiles of an image skip the rebuild. Each
// path has its own (the Owner tag), used by nothing else, so the tag stays true even when the
// worker runs other ops' tasks in between.
struct TaggedInput {
  std::vector<float> buf, row;
  std::uint64_t call = 0;  // next_conv_call() of the call that built it
  I64 n = -1, grp = -1;
};
template <class Owner>
TaggedInput& tagged_input() {
  thread_local TaggedInput b;
  return b;
}
// A number no earlier conv call got.
inline std::uint64_t next_conv_call() {
  static std::atomic<std::uint64_t> calls{0};
  return ++calls;
}

// K block size: whole K up to 512, else balanced blocks of at most 384.
inline I64 k_block(I64 K) {
  return K <= 512 ? K : (K + (K + 383) / 384 - 1) / ((K + 383) / 384);
}

// Width-stride-2 im2col packing for the packed GEMM (conv_pack_stride2.cpp). A block's flat
// output columns [q0, q0 + nq) cut into chunks of at most 16 within one output row: x is the
// chunk's image offset in x (relative to the block's first image), ih / iw the input row /
// column of its first output's window origin, and its columns start at `offset` in `panel`.
struct RowChunk {
  I64 x, ih, iw, panel, offset, len;
};
std::vector<RowChunk>& row_chunks(const ConvGeometry& g, I64 q0, I64 nq);
// Rows [k0, k1) of group grp's im2col matrix for the chunks' columns (nq in all), into the
// panels of conv_gemm.cpp's layout; columns past nq in the last panel become zeros.
void pack_columns_stride2(const ConvGeometry& g, const float* xb, I64 grp, I64 k0, I64 k1,
                          const std::vector<RowChunk>& chunks, I64 nq, float* bp);

// The implicit-GEMM path (conv_implicit.cpp): its estimated cost in the units of
// conv_gemm.cpp's estimate, and the conv itself (false if the shape does not fit it).
double implicit_cost(const ConvGeometry& g);
// True for 1x1 stride-1 convs without padding: the implicit path reads their input planes in
// place, with nothing to copy or pack.
bool implicit_reads_in_place(const ConvGeometry& g);
bool conv_implicit(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                   float* y);
// The channel-lane path (conv_channel_lanes.cpp): whether Auto takes it, and the conv
// (false if the shape does not fit it).
bool channel_lanes_suits(const ConvGeometry& g);
// The Winograd F(2x2, 3x3) path (conv_winograd.cpp): whether Auto takes it, and the conv
// (false if the shape does not fit it).
bool winograd_suits(const ConvGeometry& g);
bool conv_winograd(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                   float* y);
bool conv_channel_lanes(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                        float* y);

}  // namespace mpq::convk
