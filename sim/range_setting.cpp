#include "range_setting.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <functional>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace mpq {
namespace {

// Clipping ranges tried by the MSE search: fractions of the observed extremes.
constexpr int kSteps1d = 100;  // one free end (symmetric, or non-negative)
constexpr int kSteps2d = 25;   // both ends free (asymmetric on a signed tensor)

// The representable interval of the quantizer that [lo, hi] defines, and its step.
struct Grid {
  double rmin, rmax, step;
};
Grid grid_for(float lo, float hi, const RangeRequest& r) {
  const IntGrid g = int_grid(r.format.bits, r.scheme, r.non_negative);
  const ScaleZero sz = scale_from_range(lo, hi, g, r.scheme);
  return {static_cast<double>(g.qmin - sz.zero_point) * sz.scale,
          static_cast<double>(g.qmax - sz.zero_point) * sz.scale, sz.scale};
}

// Minimises err(lo, hi) over the candidate ranges; ties keep the wider range.
Range search_range(float lo, float hi, const RangeRequest& r,
                   const std::function<double(float, float)>& err) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  Range best{lo, hi};
  double best_err = std::numeric_limits<double>::infinity();
  const bool one_sided = r.non_negative || lo == 0.0f;
  if (r.scheme == QuantScheme::Symmetric || one_sided) {
    const float amax = one_sided ? hi : std::max(-lo, hi);
    for (int i = kSteps1d; i >= 1; --i) {
      const float c = amax * static_cast<float>(i) / kSteps1d;
      const Range cand = one_sided ? Range{0.0f, c} : Range{-c, c};
      const double e = err(cand.lo, cand.hi);
      if (e < best_err) best_err = e, best = cand;
    }
    return best;
  }
  for (int a = kSteps2d; a >= 1; --a)
    for (int b = kSteps2d; b >= 1; --b) {
      const Range cand{lo * static_cast<float>(a) / kSteps2d,
                       hi * static_cast<float>(b) / kSteps2d};
      const double e = err(cand.lo, cand.hi);
      if (e < best_err) best_err = e, best = cand;
    }
  return best;
}

// Sum over v of (v - fake_quantize_int_reference(v, ...))^2. Each float difference squared is
// exact in double; only the order of the double sum differs between the two paths. v holds no
// NaN (the caller skips such channels).
double squared_error(std::span<const float> v, ScaleZero sz, IntGrid g, double clip_weight) {
#if defined(__AVX512F__)
  // The reference's arithmetic lane-wise: round(x / scale) + zp clamped to the grid, times
  // scale. Float clamps equal the reference's int64 ones: grid codes are exact in float.
  const __m512 inv = _mm512_set1_ps(1.0f / sz.scale), scale = _mm512_set1_ps(sz.scale);
  const __m512 zp = _mm512_set1_ps(static_cast<float>(sz.zero_point));
  const __m512 qmin = _mm512_set1_ps(static_cast<float>(g.qmin));
  const __m512 qmax = _mm512_set1_ps(static_cast<float>(g.qmax));
  const __m512 clip_scale = _mm512_set1_ps(static_cast<float>(std::sqrt(clip_weight)));
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  const auto n = static_cast<std::int64_t>(v.size());
  for (std::int64_t k = 0; k < n; k += 16) {
    const __mmask16 m =
        static_cast<__mmask16>(n - k >= 16 ? 0xffffu : (1u << static_cast<unsigned>(n - k)) - 1u);
    const __m512 x = _mm512_maskz_loadu_ps(m, v.data() + k);
    // maskz forms: GCC 12's plain ones trip -Wmaybe-uninitialized.
    __m512 q =
        _mm512_add_ps(_mm512_maskz_roundscale_ps(0xffff, _mm512_mul_ps(x, inv),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                      zp);
    const __mmask16 clipped = static_cast<__mmask16>(_mm512_cmp_ps_mask(q, qmin, _CMP_LT_OQ) |
                                                     _mm512_cmp_ps_mask(q, qmax, _CMP_GT_OQ));
    q = _mm512_maskz_min_ps(0xffff, _mm512_maskz_max_ps(0xffff, q, qmin), qmax);
    // Masked-off lanes: x = 0 and its quantized value may differ from 0 (zero point off grid).
    // A clipped lane's difference is scaled by sqrt(clip_weight) (by 1: exact, for MSE).
    const __m512 diff = _mm512_maskz_sub_ps(m, x, _mm512_mul_ps(_mm512_sub_ps(q, zp), scale));
    const __m512 d = _mm512_mask_mul_ps(diff, clipped, diff, clip_scale);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(d));
    const __m512d hi = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_shuffle_f32x4(d, d, 0xEE)));
    acc0 = _mm512_fmadd_pd(lo, lo, acc0);
    acc1 = _mm512_fmadd_pd(hi, hi, acc1);
  }
  // Stored and summed in order: _mm512_reduce_add_pd trips GCC 12's -Wuninitialized.
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, _mm512_add_pd(acc0, acc1));
  double e = 0;
  for (double l : lanes) e += l;
  return e;
#else
  const float clip_scale = static_cast<float>(std::sqrt(clip_weight));
  double e = 0;
  for (float x : v) {
    const float code = std::nearbyint(x * (1.0f / sz.scale)) + static_cast<float>(sz.zero_point);
    const bool clipped = code < static_cast<float>(g.qmin) || code > static_cast<float>(g.qmax);
    float d = x - fake_quantize_int_reference(x, sz.scale, sz.zero_point, g.qmin, g.qmax);
    if (clipped) d *= clip_scale;
    e += static_cast<double>(d) * d;
  }
  return e;
#endif
}

// Fractions of a channel's extremes tried against the output error, widest first (ties keep it).
constexpr float kOutputErrorFractions[] = {1.0f,  0.98f, 0.95f, 0.92f, 0.88f,
                                           0.84f, 0.8f,  0.75f, 0.7f,  0.6f};

// Of the candidate ranges for one output channel's weights, the one whose quantization changes
// the op's output least on the calibration data (dw^T H dw).
Range least_output_error(std::span<const float> v, float lo, float hi, Range searched,
                         const RangeRequest& r, const InputMoments& moments, std::int64_t channel,
                         std::int64_t channels) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const bool one_sided = r.non_negative || lo == 0.0f;
  const float amax = one_sided ? hi : std::max(-lo, hi);
  std::vector<Range> candidates;
  for (const float t : kOutputErrorFractions) {
    if (r.scheme == QuantScheme::Symmetric || one_sided)
      candidates.push_back(one_sided ? Range{0.0f, amax * t} : Range{-amax * t, amax * t});
    else
      candidates.push_back({lo * t, hi * t});
  }
  candidates.push_back(searched);
  const IntGrid g = int_grid(r.format.bits, r.scheme, r.non_negative);
  // A clipped weight's error is weighted as in the tensor search (kClipWeight): clipping shrinks
  // a channel's largest weights, a gain error that every later layer sums coherently, while
  // rounding errors of different channels cancel there; the op-local output error sees neither.
  const double clip_scale = std::sqrt(kClipWeight);
  std::vector<Range> tried;
  std::vector<double> dws;
  for (const Range& c : candidates) {
    if (!(c.hi > c.lo)) continue;
    const ScaleZero sz = scale_from_range(c.lo, c.hi, g, r.scheme);
    const Grid grid = grid_for(c.lo, c.hi, r);
    for (std::size_t k = 0; k < v.size(); ++k) {
      double d = static_cast<double>(
                     fake_quantize_int_reference(v[k], sz.scale, sz.zero_point, g.qmin, g.qmax)) -
                 v[k];
      if (v[k] < grid.rmin || v[k] > grid.rmax) d *= clip_scale;
      dws.push_back(d);
    }
    tried.push_back(c);
  }
  const std::vector<double> errors =
      moments.output_errors(dws, static_cast<std::int64_t>(tried.size()), channel, channels);
  Range best = candidates.front();
  double best_err = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < tried.size(); ++k)
    if (errors[k] < best_err) best_err = errors[k], best = tried[k];
  return best;
}

}  // namespace

Result<RangeMethod> parse_range_method(const std::string& text) {
  if (text == "minmax") return RangeMethod::MinMax;
  if (text == "percentile") return RangeMethod::Percentile;
  if (text == "mse") return RangeMethod::Mse;
  if (text == "enhanced") return RangeMethod::Enhanced;
  return make_error("unknown range-setting method '" + text +
                    "' (expected enhanced, minmax, percentile or mse)");
}

const char* range_method_name(RangeMethod m) {
  switch (m) {
    case RangeMethod::MinMax:
      return "minmax";
    case RangeMethod::Percentile:
      return "percentile";
    case RangeMethod::Mse:
      return "mse";
    case RangeMethod::Enhanced:
      return "enhanced";
  }
  return "?";
}

Histogram::Histogram(float lo_, float hi_) : lo(lo_), hi(hi_), counts(kBins, 0.0) {}

void Histogram::add(std::span<const float> values) {
  const double width = static_cast<double>(hi) - lo;
  const double per = width > 0 ? kBins / width : 0.0;
  for (float v : values) {
    if (v == 0.0f) {
      zeros += 1;
      continue;
    }
    const auto k = static_cast<int>((static_cast<double>(v) - lo) * per);
    counts[static_cast<std::size_t>(std::clamp(k, 0, kBins - 1))] += 1;
  }
}

double Histogram::total() const {
  double t = zeros;
  for (double c : counts) t += c;
  return t;
}

double Histogram::bin_center(int k) const {
  return lo + (k + 0.5) * ((static_cast<double>(hi) - lo) / kBins);
}

RangeMethod effective_method(const RangeRequest& r) {
  // Float and block formats: the range only sets a scale of the largest value (block formats
  // scale each block from its own maximum; NVFP4's per-tensor scale from the tensor's).
  if (!r.format.is_int()) return RangeMethod::MinMax;
  if (r.method == RangeMethod::Enhanced && r.format.bits >= kMinMaxBits) return RangeMethod::MinMax;
  return r.method;
}

Range activation_range(const Histogram& h, const RangeRequest& r) {
  const RangeMethod method = effective_method(r);
  if (method == RangeMethod::MinMax || h.counts.empty()) return {h.lo, h.hi};
  if (method == RangeMethod::Percentile) {
    const double total = h.total();
    const double lo_target = total * (100.0 - r.percentile) / 100.0;
    const double hi_target = total * r.percentile / 100.0;
    double cum = 0;
    float plo = h.lo, phi = h.hi;
    bool have_lo = false;
    const double zero_pos = -h.lo / (static_cast<double>(h.hi) - h.lo) * Histogram::kBins;
    for (int k = 0; k < Histogram::kBins; ++k) {
      cum += h.counts[static_cast<std::size_t>(k)];
      if (k == static_cast<int>(zero_pos)) cum += h.zeros;
      if (!have_lo && cum >= lo_target) plo = static_cast<float>(h.bin_center(k)), have_lo = true;
      if (cum >= hi_target) {
        phi = static_cast<float>(h.bin_center(k));
        break;
      }
    }
    return {plo, phi};
  }
  // The occupied bins once (often a small part of the histogram), in bin order as before.
  std::vector<std::pair<double, double>> occupied;  // (bin center, count)
  for (int k = 0; k < Histogram::kBins; ++k)
    if (const double n = h.counts[static_cast<std::size_t>(k)]; n != 0)
      occupied.emplace_back(h.bin_center(k), n);
  const double clip_weight = method == RangeMethod::Enhanced ? kClipWeight : 1.0;
  const auto err = [&](float lo, float hi) {
    const Grid g = grid_for(lo, hi, r);
    const double rounding = g.step * g.step / 12.0;
    double e = 0, clipping = 0;
    for (const auto& [x, n] : occupied) {
      if (x < g.rmin)
        clipping += n * (x - g.rmin) * (x - g.rmin);
      else if (x > g.rmax)
        clipping += n * (x - g.rmax) * (x - g.rmax);
      else
        e += n * rounding;
    }
    return e + clip_weight * clipping;
  };
  return search_range(h.lo, h.hi, r, err);
}

std::vector<Range> weight_ranges(std::span<const float> w, std::span<const std::int64_t> shape,
                                 int axis, const RangeRequest& r, const InputMoments* moments) {
  std::int64_t channels = 1, inner = static_cast<std::int64_t>(w.size());
  if (axis >= 0) {
    channels = shape[static_cast<std::size_t>(axis)];
    inner = 1;
    for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < shape.size(); ++d)
      inner *= shape[d];
  }
  const std::int64_t outer =
      (channels * inner) != 0 ? static_cast<std::int64_t>(w.size()) / (channels * inner) : 0;
  std::vector<Range> out;
  std::vector<float> values;
  for (std::int64_t c = 0; c < channels; ++c) {
    values.clear();
    for (std::int64_t o = 0; o < outer; ++o) {
      const float* p = w.data() + (o * channels + c) * inner;
      values.insert(values.end(), p, p + inner);
    }
    const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    const float lo = values.empty() ? 0.0f : *mn, hi = values.empty() ? 0.0f : *mx;
    const RangeMethod method = effective_method(r);
    if (method == RangeMethod::MinMax || values.empty()) {
      out.push_back({lo, hi});
      continue;
    }
    if (method == RangeMethod::Percentile) {
      std::vector<float> sorted = values;
      std::sort(sorted.begin(), sorted.end());
      const auto at = [&](double q) {
        const auto k = static_cast<std::size_t>(q / 100.0 * static_cast<double>(sorted.size() - 1));
        return sorted[k];
      };
      out.push_back({at(100.0 - r.percentile), at(r.percentile)});
      continue;
    }
    // A NaN makes every candidate's error NaN, so the search would keep [lo, hi].
    if (std::any_of(values.begin(), values.end(), [](float v) { return std::isnan(v); })) {
      out.push_back({std::min(lo, 0.0f), std::max(hi, 0.0f)});
      continue;
    }
    const IntGrid g = int_grid(r.format.bits, r.scheme, r.non_negative);
    const double clip_weight = method == RangeMethod::Enhanced ? kClipWeight : 1.0;
    const auto err = [&](float clo, float chi) {
      return squared_error(values, scale_from_range(clo, chi, g, r.scheme), g, clip_weight);
    };
    const Range searched = search_range(lo, hi, r, err);
    const bool by_output = method == RangeMethod::Enhanced && moments && axis >= 0 &&
                           moments->well_determined() &&
                           moments->fan_in == static_cast<std::int64_t>(values.size());
    out.push_back(by_output ? least_output_error(values, lo, hi, searched, r, *moments, c, channels)
                            : searched);
  }
  return out;
}

}  // namespace mpq
