// Gemm and MatMul through Eigen SGEMM (gemm_kernel.hpp), split over TBB threads by batch
// entries or by row / column blocks of one product.
#include <algorithm>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>

#include "sim/op_registry.hpp"
#include "sim/ops/gemm_kernel.hpp"
#include "sim/ops/kernel_util.hpp"

namespace mpq {
namespace {

using I64 = std::int64_t;

// What the engine folded into this op: a bias Add (MatMul) and/or a Relu/Clip.
gemm::Epilogue epilogue(const OpContext& ctx, I64 N) {
  gemm::Epilogue e;
  if (ctx.out_bias) {
    if (ctx.out_bias_len != N)
      throw OpError("folded bias has " + std::to_string(ctx.out_bias_len) + " values, expected " +
                    std::to_string(N));
    e.col_bias = ctx.out_bias;
    e.before_bias = ctx.before_bias;
  }
  e.after = ctx.output_hook;
  if (ctx.has_clamp()) {
    e.clamp = true;
    e.lo = ctx.act_min;
    e.hi = ctx.act_max;
  }
  return e;
}

void gemm_kernel(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  const Tensor* c = optional_input(in, 2);
  if (!a.is_float() || !b.is_float() || (c && !c->is_float()))
    throw OpError("Gemm supports float tensors only");
  if (a.rank() != 2 || b.rank() != 2)
    throw OpError("Gemm needs 2-D A and B, got " + shape_str(a.shape) + " and " +
                  shape_str(b.shape));
  const bool ta = ctx.node.attr_int("transA", 0) != 0, tb = ctx.node.attr_int("transB", 0) != 0;
  const float alpha = ctx.node.attr_float("alpha", 1.0f), beta = ctx.node.attr_float("beta", 1.0f);
  const I64 M = a.shape[ta ? 1 : 0], K = a.shape[ta ? 0 : 1];
  const I64 N = b.shape[tb ? 0 : 1];
  if (b.shape[tb ? 1 : 0] != K)
    throw OpError("Gemm inner dimensions differ: A " + shape_str(a.shape) + (ta ? "^T" : "") +
                  ", B " + shape_str(b.shape) + (tb ? "^T" : ""));
  Tensor& y = out[0];
  shape_float_output(y, {M, N});
  const bool use_c = c != nullptr && beta != 0.0f;
  if (use_c) {
    // C broadcasts unidirectionally to [M, N]: right-aligned dims of size 1 or equal.
    if (c->rank() > 2) throw OpError("Gemm C must have rank <= 2, got " + shape_str(c->shape));
    const I64 cr = c->rank() == 2 ? c->shape[0] : 1, cc = c->rank() >= 1 ? c->shape.back() : 1;
    if ((cr != 1 && cr != M) || (cc != 1 && cc != N))
      throw OpError("Gemm C " + shape_str(c->shape) + " does not broadcast to [" +
                    std::to_string(M) + "x" + std::to_string(N) + "]");
    for (I64 i = 0; i < M; ++i)
      for (I64 j = 0; j < N; ++j)
        y.f[static_cast<std::size_t>(i * N + j)] =
            beta * c->f[static_cast<std::size_t>((cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j))];
  }
  gemm::parallel_sgemm(M, N, K, alpha, {a.f.data(), a.shape[1], ta}, {b.f.data(), b.shape[1], tb},
                       use_c ? 1.0f : 0.0f, y.f.data(), N, epilogue(ctx, N));
}

void matmul_kernel(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  if (!a.is_float() || !b.is_float()) throw OpError("MatMul supports float tensors only");
  if (a.rank() == 0 || b.rank() == 0)
    throw OpError("MatMul inputs must have rank >= 1, got " + shape_str(a.shape) + " and " +
                  shape_str(b.shape));
  // numpy semantics: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; those dims are dropped.
  Shape as = a.shape, bs = b.shape;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const I64 M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K)
    throw OpError("MatMul inner dimensions differ: " + shape_str(a.shape) + " x " +
                  shape_str(b.shape));
  const std::size_t ra = as.size() - 2, rb = bs.size() - 2, rbatch = std::max(ra, rb);
  Shape batch(rbatch, 1);
  for (std::size_t d = 0; d < rbatch; ++d) {
    const I64 da = d + ra >= rbatch ? as[d + ra - rbatch] : 1;
    const I64 db = d + rb >= rbatch ? bs[d + rb - rbatch] : 1;
    if (da != db && da != 1 && db != 1)
      throw OpError("MatMul batch dimensions do not broadcast: " + shape_str(a.shape) + " x " +
                    shape_str(b.shape));
    batch[d] = da == 1 ? db : da;
  }
  Shape ys = batch;
  if (a.rank() > 1) ys.push_back(M);
  if (b.rank() > 1) ys.push_back(N);
  Tensor& y = out[0];
  shape_float_output(y, ys);
  const I64 nbatch = numel(batch), a_batch = numel(std::span(as).first(ra)),
            b_batch = numel(std::span(bs).first(rb));
  if (nbatch == 0 || M == 0 || N == 0) return;
  const gemm::Epilogue epi = epilogue(ctx, N);
  if (b_batch == 1) {
    // Shared B (e.g. a Linear layer on [B, T, D]): all of A's rows form one product.
    gemm::parallel_sgemm(a_batch * M, N, K, 1.0f, {a.f.data(), K}, {b.f.data(), N}, 0.0f,
                         y.f.data(), N, epi);
    return;
  }
  // Element offsets of A and B for each output batch index (broadcast dims have stride 0).
  std::vector<I64> a_off(static_cast<std::size_t>(nbatch)), b_off(a_off.size());
  for (I64 t = 0; t < nbatch; ++t) {
    I64 rem = t, ao = 0, bo = 0, sa = M * K, sb = K * N;
    for (std::size_t d = rbatch; d-- > 0;) {
      const I64 idx = rem % batch[d];
      rem /= batch[d];
      const I64 da = d + ra >= rbatch ? as[d + ra - rbatch] : 1;
      const I64 db = d + rb >= rbatch ? bs[d + rb - rbatch] : 1;
      if (da != 1) ao += idx * sa;
      if (db != 1) bo += idx * sb;
      sa *= da;
      sb *= db;
    }
    a_off[static_cast<std::size_t>(t)] = ao;
    b_off[static_cast<std::size_t>(t)] = bo;
  }
  // parallel_sgemm blocks each product the same way whatever the thread count (determinism);
  // TBB runs its nested loops inside the outer one when the batch already fills the threads.
  tbb::parallel_for(tbb::blocked_range<I64>(0, nbatch), [&](const tbb::blocked_range<I64>& r) {
    for (I64 t = r.begin(); t != r.end(); ++t) {
      const auto k = static_cast<std::size_t>(t);
      const gemm::MatRef A{a.f.data() + a_off[k], K}, B{b.f.data() + b_off[k], N};
      gemm::parallel_sgemm(M, N, K, 1.0f, A, B, 0.0f, y.f.data() + t * M * N, N, epi);
    }
  });
}

}  // namespace

void register_gemm_ops(OpTable& t) {
  t.push_back({"Gemm", gemm_kernel, nullptr, true, false, false, true});
  t.push_back({"MatMul", matmul_kernel, nullptr, true, false, true, true});
}

}  // namespace mpq
