// erf on 8 intervals of [0, 4] (beyond 4, float erf is 1), one polynomial each, in double:
// [0, 0.5): x * P(8 x^2 - 1), relative accuracy near 0; [i/2, i/2 + 0.5): P(4 (x - i/2 - 0.25)).
// Coefficients: scripts/fit_erf.py (Chebyshev interpolation of erf in mpmath, 50 digits).
#include "sim/ops/erf.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>

#include "sim/ops/kernel_util.hpp"

namespace mpq::ops {
namespace {

constexpr int kIntervals = 8;
constexpr int kTerms = 11;  // degree 10; interval 0 uses degree 8 in x^2

// kCoef[k][i]: coefficient of u^k on interval i (one AVX-512 vector per k).
// clang-format off
constexpr std::array<std::array<double, kIntervals>, kTerms> kCoef = [] {
  constexpr double by_interval[kIntervals][kTerms] = {
    {1.0830752376761712, -0.043642058886697886, 0.0016130716680617082, -4.762336934519552e-05,
     1.151603779519474e-06, -2.3472289797042594e-08, 4.1270252134730293e-10,
     -6.37686858732805e-12, 8.777299809787717e-14, 0.0, 0.0},
    {0.7111556336535151, 0.16073276730036695, -0.030137393868590937, 0.00041857488352654637,
     0.0005886209753073597, -5.1994677172143355e-05, -6.560678636338837e-06,
     1.124795454544249e-06, 3.5139390837361386e-08, -1.473398292585899e-08,
     1.6040053558180437e-10},
    {0.9229001282564583, 0.059130280611017265, -0.018478212691228676, 0.0026177468140365693,
     -2.4060172093443445e-05, -4.6075321247420845e-05, 5.2005022795264106e-06,
     2.2151958744146277e-07, -8.693095491997926e-08, 3.1394765007374457e-09,
     7.480551891813977e-10},
    {0.9866716712191824, 0.013193748982516003, -0.005772265179816739, 0.0014087075740854293,
     -0.00018789925802626035, 6.4691006331963606e-06, 2.1882483033642628e-06,
     -3.6979162375055673e-07, 1.1128551799868148e-08, 3.406212335360791e-09,
     -4.110668118368795e-10},
    {0.9985372834133188, 0.001785579755670688, -0.0010043886124854312, 0.00033944614811297065,
     -7.454446704866772e-05, 1.0407908428478243e-05, -7.090731383439336e-07,
     -4.0963956427325536e-08, 1.5254701974425542e-08, -1.3664696422876294e-09,
     -1.4593217848518803e-11},
    {0.9998993780778803, 0.00014656931173405294, -0.00010076640184503077, 4.313107430499845e-05,
     -1.2727006467263821e-05, 2.6912147335110515e-06, -4.0462103538594884e-07,
     3.944134406676441e-08, -1.3580117996417248e-09, -2.8188990019407794e-10,
     5.2257419439131956e-11},
    {0.9999956972205363, 7.29725633832144e-06, -5.929020779820657e-06, 3.059526900584312e-06,
     -1.1194114999745594e-06, 3.064417564511991e-07, -6.433787715330909e-08,
     1.0377381849523239e-08, -1.2461561362936586e-09, 9.693661183398255e-11,
     -1.9088143280140934e-12},
    {0.9999998862727434, 2.2035804976780637e-07, -2.0658566987296884e-07, 1.245252117681327e-07,
     -5.406734221117918e-08, 1.7940624966642014e-08, -4.70526023148422e-09,
     9.92862854314878e-10, -1.6978951121547176e-10, 2.3807686384081874e-11,
     -2.496719538848899e-12},
  };
  std::array<std::array<double, kIntervals>, kTerms> t{};
  for (int k = 0; k < kTerms; ++k)
    for (int i = 0; i < kIntervals; ++i) t[k][i] = by_interval[i][k];
  return t;
}();
// clang-format on

#if !defined(__AVX512F__)
// |x| (clamped to [0, 4]) -> erf, the scalar twin of the vector path (same operations, FMAs).
double erf_abs(double a) {
  const int i = std::min(static_cast<int>(a * 2.0), kIntervals - 1);
  const double u = i == 0 ? std::fma(8.0 * a, a, -1.0) : (a - (0.5 * i + 0.25)) * 4.0;
  double r = kCoef[kTerms - 1][static_cast<std::size_t>(i)];
  for (int k = kTerms - 2; k >= 0; --k) r = std::fma(r, u, kCoef[k][static_cast<std::size_t>(i)]);
  return i == 0 ? r * a : r;
}

float erf_scalar(float x) {
  if (std::isnan(x)) return x;
  const double r = erf_abs(std::min(static_cast<double>(std::fabs(x)), 4.0));
  return std::copysign(static_cast<float>(r), x);
}
#else
__m512d erf_abs8(__m512d a) {
  const __m256i i32 = _mm512_cvttpd_epi32(_mm512_mul_pd(a, _mm512_set1_pd(2.0)));
  const __m256i i32c = _mm256_min_epi32(i32, _mm256_set1_epi32(kIntervals - 1));
  const __m512i idx = _mm512_cvtepi32_epi64(i32c);
  const __mmask8 first = _mm512_cmpeq_epi64_mask(idx, _mm512_setzero_si512());
  const __m512d centre =
      _mm512_fmadd_pd(_mm512_cvtepi32_pd(i32c), _mm512_set1_pd(0.5), _mm512_set1_pd(0.25));
  const __m512d u_mid = _mm512_mul_pd(_mm512_sub_pd(a, centre), _mm512_set1_pd(4.0));
  const __m512d u_first =
      _mm512_fmadd_pd(_mm512_mul_pd(_mm512_set1_pd(8.0), a), a, _mm512_set1_pd(-1.0));
  const __m512d u = _mm512_mask_blend_pd(first, u_mid, u_first);
  __m512d r = _mm512_permutexvar_pd(idx, _mm512_loadu_pd(kCoef[kTerms - 1].data()));
  for (int k = kTerms - 2; k >= 0; --k)
    r = _mm512_fmadd_pd(
        r, u,
        _mm512_permutexvar_pd(idx, _mm512_loadu_pd(kCoef[static_cast<std::size_t>(k)].data())));
  return _mm512_mask_mul_pd(r, first, r, a);
}

__m512 erf16(__m512 x) {
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN));
  // min(|x|, 4) maps NaN to 4; the NaN lanes are put back at the end.
  const __m512 a = _mm512_min_ps(_mm512_abs_ps(x), _mm512_set1_ps(4.0f));
  const __m512d lo = erf_abs8(_mm512_cvtps_pd(_mm512_castps512_ps256(a)));
  const __m512d hi =
      erf_abs8(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))));
  const __m512 r = _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo))),
                         _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign)), nan,
                            x);
}
#endif

}  // namespace

void erf_float(const float* x, float* y, std::int64_t n) {
  std::int64_t k = 0;
#if defined(__AVX512F__)
  for (; k + 16 <= n; k += 16) _mm512_storeu_ps(y + k, erf16(_mm512_loadu_ps(x + k)));
  if (k < n) {
    const __mmask16 m = lanes_below(n - k);
    _mm512_mask_storeu_ps(y + k, m, erf16(_mm512_maskz_loadu_ps(m, x + k)));
  }
#else
  for (; k < n; ++k) y[k] = erf_scalar(x[k]);
#endif
}

}  // namespace mpq::ops
