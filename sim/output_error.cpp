#include "output_error.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <optional>

#include "op_registry.hpp"
#include "ops/conv_common.hpp"

namespace mpq {
namespace {

struct Layout {
  std::int64_t groups = 1, fan_in = 0;
};

std::optional<Layout> layout_of(const OpNode& op, const Shape& w) {
  Layout l;
  if (op.op_type == "Conv" && w.size() >= 3 && w[0] > 0) {
    l.groups = op.attr_int("group", 1);
    l.fan_in = numel(w) / w[0];
  } else if (op.op_type == "Gemm" && w.size() == 2 && op.attr_int("transA", 0) == 0) {
    l.fan_in = op.attr_int("transB", 0) ? w[1] : w[0];
  } else if (op.op_type == "MatMul" && w.size() == 2) {
    l.fan_in = w[0];
  } else {
    return std::nullopt;
  }
  if (l.fan_in <= 0 || l.fan_in > kMaxMomentFanIn || l.groups <= 0) return std::nullopt;
  return l;
}

using RowsF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// sums += P^T P for the n x f rows in `rows` (float products, summed into double per call).
void add_gram(const float* rows, std::int64_t n, std::int64_t f, double* sums) {
  if (n == 0) return;
  const Eigen::Map<const RowsF> p(rows, n, f);
  const Eigen::MatrixXf g = p.transpose() * p;
  Eigen::Map<Eigen::MatrixXd>(sums, f, f) += g.cast<double>();
}

// Rows of at most this many vectors are summed at a time (bounded memory, float sums short).
constexpr std::int64_t kChunk = 2048;

// Calls visit(group, rows, n) on chunks of at most kChunk input patches of a Conv, in the order
// (group, batch, output position).
void for_each_conv_chunk(const OpNode& op, const Shape& w, const Tensor& x, std::int64_t f,
                         const RowsVisitor& visit) {
  const ConvGeometry g = conv_geometry(op, x.shape, w);
  const std::int64_t cg = g.in_channels / g.group;
  const std::array<std::int64_t, 3> in = g.in, out = g.out, k = g.kernel;
  const std::int64_t in_size = in[0] * in[1] * in[2], positions = out[0] * out[1] * out[2];
  std::vector<float> rows(static_cast<std::size_t>(kChunk * f));
  for (std::int64_t grp = 0; grp < g.group; ++grp) {
    std::int64_t n = 0;
    for (std::int64_t b = 0; b < g.batch; ++b)
      for (std::int64_t pos = 0; pos < positions; ++pos) {
        const std::int64_t o0 = pos / (out[1] * out[2]), o1 = pos / out[2] % out[1],
                           o2 = pos % out[2];
        float* row = rows.data() + n * f;
        std::int64_t e = 0;
        for (std::int64_t c = 0; c < cg; ++c) {
          const float* plane = x.f.data() + (b * g.in_channels + grp * cg + c) * in_size;
          for (std::int64_t k0 = 0; k0 < k[0]; ++k0)
            for (std::int64_t k1 = 0; k1 < k[1]; ++k1)
              for (std::int64_t k2 = 0; k2 < k[2]; ++k2, ++e) {
                const std::int64_t i0 = o0 * g.stride[0] - g.pad_begin[0] + k0 * g.dilation[0];
                const std::int64_t i1 = o1 * g.stride[1] - g.pad_begin[1] + k1 * g.dilation[1];
                const std::int64_t i2 = o2 * g.stride[2] - g.pad_begin[2] + k2 * g.dilation[2];
                const bool inside =
                    i0 >= 0 && i0 < in[0] && i1 >= 0 && i1 < in[1] && i2 >= 0 && i2 < in[2];
                row[e] = inside ? plane[(i0 * in[1] + i1) * in[2] + i2] : 0.0f;
              }
        }
        if (++n == kChunk) visit(grp, rows.data(), n), n = 0;
      }
    if (n > 0) visit(grp, rows.data(), n);
  }
}

}  // namespace

bool InputMoments::well_determined() const {
  return fan_in > 0 && vectors >= kVectorsPerFanIn * fan_in;
}

double InputMoments::output_error(std::span<const double> dw, std::int64_t channel,
                                  std::int64_t channels) const {
  if (vectors == 0) return 0;
  const std::int64_t group = channel / std::max<std::int64_t>(1, channels / groups);
  const Eigen::Map<const Eigen::MatrixXd> s(sums.data() + group * fan_in * fan_in, fan_in, fan_in);
  const Eigen::Map<const Eigen::VectorXd> d(dw.data(), fan_in);
  return d.dot(s * d) / static_cast<double>(vectors);
}

std::vector<double> InputMoments::output_errors(std::span<const double> dws, std::int64_t count,
                                                std::int64_t channel, std::int64_t channels) const {
  std::vector<double> out(static_cast<std::size_t>(count), 0.0);
  if (vectors == 0) return out;
  const std::int64_t group = channel / std::max<std::int64_t>(1, channels / groups);
  const Eigen::Map<const Eigen::MatrixXd> s(sums.data() + group * fan_in * fan_in, fan_in, fan_in);
  const Eigen::Map<const Eigen::MatrixXd> d(dws.data(), fan_in, count);
  const Eigen::MatrixXd sd = s * d;
  for (std::int64_t k = 0; k < count; ++k)
    out[static_cast<std::size_t>(k)] = d.col(k).dot(sd.col(k)) / static_cast<double>(vectors);
  return out;
}

bool supports_input_moments(const OpNode& op, const Shape& weight) {
  return layout_of(op, weight).has_value();
}

void for_each_input_chunk(const OpNode& op, const Shape& weight, const Tensor& input,
                          const RowsVisitor& visit) {
  const auto l = layout_of(op, weight);
  if (!l || !input.is_float() || input.shape.empty()) return;
  if (op.op_type == "Conv") {
    try {
      for_each_conv_chunk(op, weight, input, l->fan_in, visit);
    } catch (const OpError&) {
      // A geometry the engine rejects never reaches here; nothing to visit otherwise.
    }
    return;
  }
  // Gemm / MatMul: every row of the input's last dimension is one input vector.
  if (input.shape.back() != l->fan_in) return;
  const std::int64_t n = input.size() / l->fan_in;
  for (std::int64_t start = 0; start < n; start += kChunk)
    visit(0, input.f.data() + start * l->fan_in, std::min(kChunk, n - start));
}

InputLayout input_layout(const OpNode& op, const Shape& weight) {
  const auto l = layout_of(op, weight);
  return l ? InputLayout{l->groups, l->fan_in} : InputLayout{};
}

void accumulate_input_moments(const OpNode& op, const Shape& weight, const Tensor& input,
                              InputMoments& m) {
  const auto l = layout_of(op, weight);
  if (!l || !input.is_float() || input.shape.empty()) return;
  if (m.sums.empty()) {
    m.groups = l->groups;
    m.fan_in = l->fan_in;
    m.sums.assign(static_cast<std::size_t>(l->groups * l->fan_in * l->fan_in), 0.0);
  }
  std::int64_t vectors = 0;
  for_each_input_chunk(op, weight, input,
                       [&](std::int64_t group, const float* rows, std::int64_t n) {
                         add_gram(rows, n, m.fan_in, m.sums.data() + group * m.fan_in * m.fan_in);
                         if (group == 0) vectors += n;
                       });
  m.vectors += vectors;
}

}  // namespace mpq
