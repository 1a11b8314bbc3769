#include "op_registry.hpp"

#include <algorithm>
#include <cassert>

namespace mpq {
namespace {

OpTable build_table() {
  OpTable t;
  register_elementwise_ops(t);
  register_reduce_ops(t);
  register_normalization_ops(t);
  register_conv_ops(t);
  register_gemm_ops(t);
  register_pool_ops(t);
  register_shape_ops(t);
  register_movement_ops(t);
  register_resize_ops(t);
  std::sort(t.begin(), t.end(),
            [](const OpSpec& a, const OpSpec& b) { return a.op_type < b.op_type; });
  for (std::size_t k = 1; k < t.size(); ++k)
    assert(t[k - 1].op_type != t[k].op_type && "op registered twice");
  return t;
}

const OpTable& table() {
  static const OpTable t = build_table();
  return t;
}

}  // namespace

const OpSpec* find_op(std::string_view op_type) {
  const auto& t = table();
  auto it = std::lower_bound(t.begin(), t.end(), op_type,
                             [](const OpSpec& s, std::string_view v) { return s.op_type < v; });
  return it != t.end() && it->op_type == op_type ? &*it : nullptr;
}

const OpTraits* find_op_traits(std::string_view op_type) {
  const OpSpec* spec = find_op(op_type);
  return spec ? &spec->traits : nullptr;
}

std::vector<std::string_view> supported_op_types() {
  std::vector<std::string_view> v;
  for (const auto& s : table()) v.push_back(s.op_type);
  return v;
}

std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank) {
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max<std::int64_t>(rank, 1))
    throw OpError("axis " + std::to_string(axis) + " is out of range for rank " +
                  std::to_string(rank));
  return a;
}

std::optional<std::vector<std::int64_t>> transpose_perm(const OpNode& node, std::int64_t rank,
                                                        std::string* why) {
  const auto fail = [&](std::string reason) -> std::optional<std::vector<std::int64_t>> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  std::vector<std::int64_t> perm = node.attr_ints("perm", {});
  if (perm.empty())
    for (std::int64_t k = rank; k-- > 0;) perm.push_back(k);
  if (static_cast<std::int64_t>(perm.size()) != rank)
    return fail("perm length does not match rank " + std::to_string(rank));
  std::vector<char> seen(static_cast<std::size_t>(rank), 0);
  for (std::int64_t& p : perm) {
    const std::int64_t a = p < 0 ? p + rank : p;
    if (a < 0 || a >= std::max<std::int64_t>(rank, 1))
      return fail("axis " + std::to_string(p) + " is out of range for rank " +
                  std::to_string(rank));
    if (seen[static_cast<std::size_t>(a)]++) return fail("perm is not a permutation");
    p = a;
  }
  return perm;
}

}  // namespace mpq
