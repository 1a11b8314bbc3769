// Channel-lane conv (AVX-512): output channels in the vector lanes, input pixels broadcast.
// Each tile accumulates P output pixels x 16V output channels; per (input channel, tap) it
// loads V weight vectors and broadcasts one input value per pixel, so a pixel's address is
// free (a pointer into the zero-padded input) and no junk columns are computed, whatever the
// width, stride or dilation. The tiles land pixel-major in a per-task buffer that 16x16
// transposes turn into NCHW rows (adding the residual and clamping on the way).
#include "sim/ops/conv_common.hpp"

#if defined(__AVX512F__)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <vector>

#include <tbb/parallel_for.h>

#include "sim/ops/conv_micro.hpp"
#include "sim/ops/conv_phase.hpp"
#include "sim/ops/gemm_kernel.hpp"

namespace mpq::convk {
namespace {

// Pixels per tile for V channel vectors: P * V accumulators + V weights + 1 broadcast <= 32.
constexpr std::array<int, 5> kPixels = {0, 24, 12, 8, 6};

// out[p * ldo + c] (+)= bias[c] + sum_k w[k * 16V + c] * px[p][off[k]]: accumulates onto out
// when `load`, else starts from bias (zero when null).
template <int P, int V>
void lanes_tile(I64 K, const std::int32_t* off, const float* const* px, const float* w,
                const float* bias, bool load, float* out, I64 ldo) {
  // Unrolled by pragma: GCC 12 left the 24-pixel loops rolled, with the accumulators on the
  // stack (a load and a store around every FMA).
  __m512 acc[P][V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const __m512 b = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 24
    for (int p = 0; p < P; ++p) acc[p][v] = load ? _mm512_loadu_ps(out + p * ldo + 16 * v) : b;
  }
  const float* q[P];
  for (int p = 0; p < P; ++p) q[p] = px[p];
  for (I64 k = 0; k < K; ++k) {
    const I64 o = off[k];
    __m512 wv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_ps(w + k * 16 * V + 16 * v);
#pragma GCC unroll 24
    for (int p = 0; p < P; ++p) {
      const __m512 a = _mm512_set1_ps(q[p][o]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[p][v] = _mm512_fmadd_ps(a, wv[v], acc[p][v]);
    }
  }
#pragma GCC unroll 24
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(out + p * ldo + 16 * v, acc[p][v]);
}

using TileFn = void (*)(I64, const std::int32_t*, const float* const*, const float*, const float*,
                        bool, float*, I64);
constexpr std::array<TileFn, 5> kTiles = {nullptr, lanes_tile<24, 1>, lanes_tile<12, 2>,
                                          lanes_tile<8, 3>, lanes_tile<6, 4>};
// Narrower tiles (8 or 9 accumulator chains still) for a chunk's last pixels: a whole tile for
// one pixel left wasted 5 / 6 of it (ResNet's 7x7 maps: 49 = 8 x 6 + 1).
constexpr std::array<int, 5> kHalfPixels = {0, 8, 4, 3, 2};
constexpr std::array<TileFn, 5> kHalfTiles = {nullptr, lanes_tile<8, 1>, lanes_tile<4, 2>,
                                              lanes_tile<3, 3>, lanes_tile<2, 4>};

// y[c * N + j] = clamp(t[j * ldt + c] + R[c * N + j]) for channels c < mc, pixels j < np.
void store_transposed(const float* t, I64 ldt, I64 np, I64 mc, float* y, I64 N, const float* R,
                      const float* clip) {
  const __m512 lo = _mm512_set1_ps(clip ? clip[0] : 0.0f),
               hi = _mm512_set1_ps(clip ? clip[1] : 0.0f);
  for (I64 j0 = 0; j0 < np; j0 += 16) {
    const __mmask16 pm = lanes_below(np - j0);
    for (I64 c0 = 0; c0 < mc; c0 += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = j0 + i < np ? _mm512_loadu_ps(t + (j0 + i) * ldt + c0) : _mm512_setzero_ps();
      transpose16(r);
      const int rows = static_cast<int>(std::min<I64>(16, mc - c0));
      for (int i = 0; i < rows; ++i) {
        float* dst = y + (c0 + i) * N + j0;
        __m512 v = r[i];
        if (R) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(pm, R + (c0 + i) * N + j0));
        if (clip) v = clamp_ps(v, lo, hi);
        _mm512_mask_storeu_ps(dst, pm, v);
      }
    }
  }
}

// The cg planes at x (H x W, in_pix floats apart) into the zero-bordered copy xp (cs floats per
// plane, wpad per row, the input at row pt, column pl; `cols` columns, rows past hp dropped):
// only input pixels are written. A function of its own: inlined in the task, it reloaded every
// bound per row (ResNet layer3.conv1 0.077 -> 0.071 ms, layer2.conv1 0.080 -> 0.077 ms).
void pad_copy(const float* x, I64 cg, I64 in_pix, I64 H, I64 W, I64 cols, float* xp, I64 cs,
              I64 wpad, I64 pt, I64 pl, I64 hp) {
  const I64 rows = std::min(H, hp - pt);
  const __mmask16 m = lanes_below(cols);
  for (I64 c = 0; c < cg; ++c) {
    if (c + 1 < cg) prefetch_plane(x + (c + 1) * in_pix, in_pix);
    const float* src = x + c * in_pix;
    float* dst = xp + c * cs + pt * wpad + pl;
    if (cols <= 16)  // one vector a row, its mask computed once (copy_n: layer3.conv1 +4 %)
      for (I64 ih = 0; ih < rows; ++ih)
        _mm512_mask_storeu_ps(dst + ih * wpad, m, _mm512_maskz_loadu_ps(m, src + ih * W));
    else
      for (I64 ih = 0; ih < rows; ++ih) copy_n(src + ih * W, cols, dst + ih * wpad);
  }
}

// No padding, and every tap of every output inside the input: the lane path's direct mode
// reads x in place.
bool reads_unpadded(const ConvGeometry& g) {
  const PaddedExtent pad = padded_extent(g);
  return g.pad_begin[1] == 0 && g.pad_begin[2] == 0 && pad.h == g.in[1] && pad.w == g.in[2];
}

}  // namespace

bool channel_lanes_suits(const ConvGeometry& g) {
  const I64 mg = g.out_channels / g.group;
  const I64 K = g.in_channels / g.group * g.kernel_pixels();
  // Measured against the implicit and packed paths (ResNet / ResNet-18 layers, batch 8 to 32):
  // ahead on strided convs, whose phase planes and im2col gathers cost the others most, as
  // long as 2+ channel vectors share each broadcast and one image's pass over the weights
  // stays in L2 (the weights stream once per image). Behind on stride 1 (the others' junk
  // columns cost less than the transposes here), on deep layers (weights from memory) and on
  // stems (few input channels: short K blocks over a large image).
  const I64 Mp = (mg + 15) / 16 * 16, in_image = g.in_channels / g.group * g.in_pixels();
  const bool strided = g.stride[1] > 1 || g.stride[2] > 1;
  if (!g.planar() || mg < 32) return false;
  // 1x1 convs read their input in place (conv_channel_lanes' direct mode), on small inputs:
  //  - strided shortcuts: ahead of the implicit path's gathered planes (ResNet's layer3
  //    shortcut, 25 KB per image: 0.025 -> 0.013 ms at batch 8), behind on ResNet-18's
  //    downsamples (200 to 800 KB per image, written by the layer before and beyond L2: 0.70
  //    -> 0.88 ms), whose strided reads across 64 to 256 planes the implicit path prefetches;
  //  - stride 1 on maps of 64 pixels or fewer, whose images fill the implicit path's 48-column
  //    panels badly (7x7: 48 + 1): MobileNet's 7x7 pointwise convs 0.026 -> 0.021 ms, its
  //    14x14 ones 0.035 -> 0.044 (behind).
  if (g.kernel_pixels() == 1)
    return reads_unpadded(g) && (strided || g.out_pixels() <= 64) && in_image <= 32 * 1024 &&
           K * Mp <= 128 * 1024;
  if (!strided) return false;
  return g.in_channels / g.group >= 16 && K * Mp <= 128 * 1024;
}

bool conv_channel_lanes(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                        float* y) {
  if (!g.planar()) return false;
  const I64 G = g.group, cg = g.in_channels / G, mg = g.out_channels / G;
  const I64 K = cg * g.kernel_pixels(), N = g.out_pixels(), in_pix = g.in_pixels();
  if (K == 0 || mg == 0) return false;
  const I64 H = g.in[1], W = g.in[2], OW = g.out[2];
  const I64 KH = g.kernel[1], KW = g.kernel[2], sh = g.stride[1], sw = g.stride[2];
  const I64 pt = g.pad_begin[1], pl = g.pad_begin[2];
  const PaddedExtent pad = padded_extent(g);
  // Direct: no padding and every tap inside the input (the 1x1 convs channel_lanes_suits
  // takes): pixels point into x itself, so there is no copy, and chunks may span images.
  const bool direct = reads_unpadded(g);
  const I64 hp = pad.h, wpad = pad.w;
  const I64 cs = hp * wpad;
  if (cg * cs >= (I64{1} << 31)) return false;
  const I64 Mp = (mg + 15) / 16 * 16, vecs = Mp / 16;
  // Weights per group, per block of up to 4 channel vectors, k-major: [k][16 * V], zero
  // past the last channel.
  const DerivedPanels wpk(
      g, w, {G, mg, K}, kPanelsChannelLanes, static_cast<std::size_t>(G * K * Mp), [&](float* wd) {
        for (I64 grp = 0; grp < G; ++grp)
          for (I64 v0 = 0; v0 < vecs; v0 += 4) {
            const I64 V = std::min<I64>(4, vecs - v0), lanes = 16 * V, c0 = 16 * v0;
            float* dst = wd + grp * K * Mp + K * c0;
            for (I64 k = 0; k < K; ++k)
              for (I64 l = 0; l < lanes; ++l)
                dst[k * lanes + l] = c0 + l < mg ? w[(grp * mg + c0 + l) * K + k] : 0.0f;
          }
      });
  std::vector<float> bpad(static_cast<std::size_t>(G * Mp), 0.0f);
  if (bias)
    for (I64 grp = 0; grp < G; ++grp)
      std::copy(bias + grp * mg, bias + grp * mg + mg, bpad.begin() + grp * Mp);
  // Nested loops, not k / (KH * KW) etc.: 64-bit divisions here took 1 % of a ResNet run.
  std::vector<std::int32_t> off;
  off.reserve(static_cast<std::size_t>(K));
  for (I64 c = 0; c < cg; ++c)
    for (I64 kh = 0; kh < KH; ++kh)
      for (I64 kw = 0; kw < KW; ++kw)
        off.push_back(
            static_cast<std::int32_t>(c * cs + kh * g.dilation[1] * wpad + kw * g.dilation[2]));
  std::vector<I64> pix;
  pix.reserve(static_cast<std::size_t>(N));
  for (I64 oh = 0; oh < g.out[1]; ++oh)
    for (I64 ow = 0; ow < OW; ++ow) pix.push_back(oh * sh * wpad + ow * sw);
  // Pixel chunks: whole images when the batch alone gives the threads work. Direct chunks
  // run over the batch's pixels (image after image), so that small maps fill whole tiles.
  const I64 T = gemm::num_threads(), units = g.batch * G;
  const I64 span = direct ? g.batch * N : N;  // pixels a chunk may range over
  const I64 spans = direct ? G : units;
  I64 chunks = spans >= 4 * T ? 1 : (4 * T + spans - 1) / spans;
  // ... and at most 256 KB of tiles per chunk, so they are still in L2 when transposed.
  I64 chunk = std::clamp<I64>((span + chunks - 1) / chunks, 24, std::max<I64>(24, 65536 / Mp));
  chunk = (chunk + 23) / 24 * 24;
  chunks = (span + chunk - 1) / chunk;
  const std::uint64_t call = next_conv_call();
  const float clip_range[2] = {g.act_min, g.act_max};
  const float* clip = g.has_activation() ? clip_range : nullptr;
  const I64 in_image = g.in_channels * in_pix;
  tbb::parallel_for(
      tbb::blocked_range<I64>(0, spans * chunks, 1), [&](const tbb::blocked_range<I64>& r) {
        TaggedInput& lb = tagged_input<struct LanePaddedCopy>();
        for (I64 t = r.begin(); t != r.end(); ++t) {
          const I64 ci = t % chunks, grp = t / chunks % G, n = direct ? 0 : t / (chunks * G);
          const I64 j0 = ci * chunk, nj = std::min(chunk, span - j0);
          float* tile = gemm::thread_scratch(static_cast<std::size_t>((chunk + 24) * Mp));
          // Input pointer of every pixel of the chunk; the last tile repeats the last pixel.
          thread_local std::vector<const float*> pxs;
          pxs.resize(static_cast<std::size_t>(chunk + 24));
          if (direct) {
            // Image and pixel stepped along the chunk: a division per pixel cost as much as
            // the tiles on 7x7 maps.
            I64 qn = j0 / N, qp = j0 - qn * N;
            const float* img = x + qn * in_image + grp * cg * in_pix;
            for (I64 j = 0; j < nj; ++j) {
              pxs[static_cast<std::size_t>(j)] = img + pix[static_cast<std::size_t>(qp)];
              if (++qp == N) {
                qp = 0;
                img += in_image;
              }
            }
            std::fill(pxs.begin() + nj, pxs.begin() + nj + 24,
                      pxs[static_cast<std::size_t>(nj - 1)]);
          } else {
            const float* xg = x + (n * g.in_channels + grp * cg) * in_pix;
            if (lb.call != call) {
              lb.buf.assign(static_cast<std::size_t>(cg * cs + 16), 0.0f);
              lb.call = call;
              lb.n = lb.grp = -1;
            }
            float* xp = lb.buf.data();
            if (lb.n != n || lb.grp != grp) {
              pad_copy(xg, cg, in_pix, H, W, std::min(W, wpad - pl), xp, cs, wpad, pt, pl, hp);
              lb.n = n;
              lb.grp = grp;
            }
            for (I64 j = 0; j < nj + 24; ++j)
              pxs[static_cast<std::size_t>(j)] =
                  xp + pix[static_cast<std::size_t>(j0 + std::min(j, nj - 1))];
          }
          const I64 taps = g.kernel_pixels();
          for (I64 v0 = 0; v0 < vecs; v0 += 4) {
            const I64 V = std::min<I64>(4, vecs - v0);
            const int P = kPixels[static_cast<std::size_t>(V)];
            const TileFn fn = kTiles[static_cast<std::size_t>(V)];
            const float* wv = wpk.data() + grp * K * Mp + K * 16 * v0;
            const float* bv = bias ? bpad.data() + grp * Mp + 16 * v0 : nullptr;
            // K blocks of whole channels, of up to 256 KB of weights (kc x 16V): every layer
            // channel_lanes_suits takes runs in one block. Blocks whose weights stayed in L1
            // (16 KB) reloaded every tile's accumulators up to 5 times: ResNet layer3.conv1
            // 0.086 -> 0.082 ms, layer2.conv1 0.094 -> 0.091 ms (batch 8, one thread; 48 KB L1).
            const I64 kc = std::max<I64>(1, 65536 / (16 * V) / taps) * taps;
            for (I64 k0 = 0; k0 < K; k0 += kc) {
              const I64 kn = std::min(kc, K - k0);
              const auto run = [&](TileFn f, I64 j) {
                f(kn, off.data() + k0, pxs.data() + j, wv + k0 * 16 * V, bv, k0 > 0,
                  tile + j * Mp + 16 * v0, Mp);
              };
              const I64 full = nj - nj % P;
              for (I64 j = 0; j < full; j += P) run(fn, j);
              const int hp = kHalfPixels[static_cast<std::size_t>(V)];
              for (I64 j = full; j < nj; j += hp) run(kHalfTiles[static_cast<std::size_t>(V)], j);
            }
          }
          // The chunk's pixels, image by image.
          for (I64 j = 0; j < nj;) {
            const I64 q = j0 + j, qn = direct ? q / N : n, p = direct ? q - qn * N : q;
            const I64 len = std::min(nj - j, N - p);
            const I64 at = (qn * g.out_channels + grp * mg) * N + p;
            store_transposed(tile + j * Mp, Mp, len, mg, y + at, N,
                             g.residual ? g.residual + at : nullptr, clip);
            j += len;
          }
        }
      });
  return true;
}

}  // namespace mpq::convk

#endif
