// Gemm and MatMul through Eigen SGEMM (gemm_kernel.hpp), split over TBB threads by batch
// entries or by row / column blocks of one product. MatMul also reads and writes through the
// Transposes the engine folds into it (OutputFolds::in_perm / out_perm).
#include <algorithm>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>

#include "graph/network.hpp"
#include "sim/op_registry.hpp"
#include "sim/ops/broadcast.hpp"
#include "sim/ops/gemm_kernel.hpp"
#include "sim/ops/grad_util.hpp"
#include "sim/ops/kernel_util.hpp"

namespace mpq {
namespace {

using I64 = std::int64_t;

// What the engine folded into this op: a bias Add (MatMul) and/or a Relu/Clip.
gemm::Epilogue epilogue(const OpContext& ctx, I64 N) {
  gemm::Epilogue e;
  e.scale = ctx.folds.out_scale;
  if (ctx.folds.out_bias) {
    if (ctx.folds.out_bias_len != N)
      throw OpError("folded bias has " + std::to_string(ctx.folds.out_bias_len) +
                    " values, expected " + std::to_string(N));
    e.col_bias = ctx.folds.out_bias;
    e.before_bias = ctx.folds.before_bias;
  }
  e.after = ctx.output_hook;
  if (ctx.folds.has_clamp()) {
    e.clamp = true;
    e.lo = ctx.folds.act_min;
    e.hi = ctx.folds.act_max;
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

// A MatMul operand as stored, read through a folded Transpose: the transposed value's dims and,
// per dim, the element stride in the stored tensor.
struct OperandView {
  Shape dims;
  std::vector<I64> strides;
};

OperandView view_of(const Tensor& t, const std::vector<I64>* perm) {
  const std::vector<I64> st = strides_of(t.shape);
  if (!perm) return {t.shape, st};
  if (perm->size() != t.shape.size())
    throw OpError("folded Transpose: perm length does not match rank " +
                  std::to_string(t.shape.size()));
  OperandView v;
  for (const I64 p : *perm) {
    v.dims.push_back(t.shape[static_cast<std::size_t>(p)]);
    v.strides.push_back(st[static_cast<std::size_t>(p)]);
  }
  return v;
}

// The [R x C] matrix at p with row stride rs and column stride cs as a MatRef: one of the two
// is 1 (or its extent is), which the engine's choice of folded perms guarantees.
gemm::MatRef matrix_at(const float* p, I64 R, I64 C, I64 rs, I64 cs) {
  if (cs == 1 || C == 1) return {p, rs, false};
  if (rs == 1 || R == 1) return {p, cs, true};
  throw OpError("folded Transpose leaves no unit stride in the last two axes");
}

// dst[r * C + c] = A(r, c) for a transposed view A: the product then sees what it would have
// read from the Transpose's own output.
void pack_rows(const gemm::MatRef& a, I64 R, I64 C, std::vector<float>& dst) {
  dst.resize(static_cast<std::size_t>(R * C));
  float* d = dst.data();
#if defined(__AVX512F__)
  // 16 x 16 tiles through registers: the ViT's attention scores, which pack each head's keys
  // ([16 x 50]), 0.039 -> 0.029 ms a block against an element loop.
  for (I64 c0 = 0; c0 < C; c0 += 16) {
    const __mmask16 cm = lanes_below(C - c0);
    for (I64 r0 = 0; r0 < R; r0 += 16) {
      const __mmask16 rm = lanes_below(R - r0);
      __m512 v[16];
      for (I64 i = 0; i < 16; ++i)
        v[i] = c0 + i < C ? _mm512_maskz_loadu_ps(rm, a.p + (c0 + i) * a.ld + r0)
                          : _mm512_setzero_ps();
      transpose16(v);
      for (I64 j = 0; j < 16 && r0 + j < R; ++j)
        _mm512_mask_storeu_ps(d + (r0 + j) * C + c0, cm, v[j]);
    }
  }
#else
  for (I64 c = 0; c < C; ++c) {
    const float* src = a.p + c * a.ld;
    for (I64 r = 0; r < R; ++r) d[r * C + c] = src[r];
  }
#endif
}

void matmul_kernel(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  if (!a.is_float() || !b.is_float()) throw OpError("MatMul supports float tensors only");
  if (a.rank() == 0 || b.rank() == 0)
    throw OpError("MatMul inputs must have rank >= 1, got " + shape_str(a.shape) + " and " +
                  shape_str(b.shape));
  const bool folded = ctx.folds.in_perm[0] || ctx.folds.in_perm[1] || ctx.folds.out_perm;
  if (folded && (a.rank() < 2 || b.rank() < 2))
    throw OpError("folded Transpose on a MatMul with a 1-D input");
  OperandView va = view_of(a, ctx.folds.in_perm[0]), vb = view_of(b, ctx.folds.in_perm[1]);
  // numpy semantics: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; those dims are dropped.
  Shape& as = va.dims;
  Shape& bs = vb.dims;
  if (as.size() == 1) {
    as.insert(as.begin(), 1);
    va.strides.insert(va.strides.begin(), as[1]);
  }
  if (bs.size() == 1) {
    bs.push_back(1);
    vb.strides.push_back(1);
  }
  const I64 M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K)
    throw OpError("MatMul inner dimensions differ: " + shape_str(va.dims) + " x " +
                  shape_str(vb.dims));
  const std::size_t ra = as.size() - 2, rb = bs.size() - 2, rbatch = std::max(ra, rb);
  Shape batch(rbatch, 1);
  for (std::size_t d = 0; d < rbatch; ++d) {
    const I64 da = d + ra >= rbatch ? as[d + ra - rbatch] : 1;
    const I64 db = d + rb >= rbatch ? bs[d + rb - rbatch] : 1;
    if (da != db && da != 1 && db != 1)
      throw OpError("MatMul batch dimensions do not broadcast: " + shape_str(as) + " x " +
                    shape_str(bs));
    batch[d] = da == 1 ? db : da;
  }
  Shape ys = batch;
  if (a.rank() > 1) ys.push_back(M);
  if (b.rank() > 1) ys.push_back(N);
  // Strides of the product's elements in y: contiguous, or those of a folded Transpose's output.
  std::vector<I64> cs = strides_of(ys);
  Tensor& y = out[0];
  if (ctx.folds.out_perm) {
    const std::vector<I64>& q = *ctx.folds.out_perm;
    if (q.size() != ys.size())
      throw OpError("folded Transpose: perm length does not match rank " +
                    std::to_string(ys.size()));
    Shape ts(ys.size());
    for (std::size_t d = 0; d < q.size(); ++d) ts[d] = ys[static_cast<std::size_t>(q[d])];
    const std::vector<I64> tst = strides_of(ts);
    for (std::size_t d = 0; d < q.size(); ++d) cs[static_cast<std::size_t>(q[d])] = tst[d];
    shape_float_output(y, ts);
  } else {
    shape_float_output(y, ys);
  }
  const I64 nbatch = numel(batch), a_batch = numel(std::span(as).first(ra)),
            b_batch = numel(std::span(bs).first(rb));
  if (nbatch == 0 || M == 0 || N == 0) return;
  const gemm::Epilogue epi = epilogue(ctx, N);
  if (!folded && b_batch == 1) {
    // Shared B (e.g. a Linear layer on [B, T, D]): all of A's rows form one product.
    gemm::parallel_sgemm(a_batch * M, N, K, 1.0f, {a.f.data(), K}, {b.f.data(), N}, 0.0f,
                         y.f.data(), N, epi);
    return;
  }
  const std::size_t r = ys.size();
  if (ctx.folds.out_perm && cs[r - 1] != 1)
    throw OpError("folded Transpose moves the output's last axis");
  const I64 ldc = ctx.folds.out_perm ? cs[r - 2] : N;
  // Element offsets of A, B and y for each output batch index (broadcast dims have stride 0).
  std::vector<I64> a_off(static_cast<std::size_t>(nbatch)), b_off(a_off.size()),
      c_off(a_off.size());
  for (I64 t = 0; t < nbatch; ++t) {
    I64 rem = t, ao = 0, bo = 0, co = 0;
    for (std::size_t d = rbatch; d-- > 0;) {
      const I64 idx = rem % batch[d];
      rem /= batch[d];
      const std::size_t ka = d + ra - rbatch, kb = d + rb - rbatch;
      if (d + ra >= rbatch && as[ka] != 1) ao += idx * va.strides[ka];
      if (d + rb >= rbatch && bs[kb] != 1) bo += idx * vb.strides[kb];
      co += idx * cs[d];
    }
    a_off[static_cast<std::size_t>(t)] = ao;
    b_off[static_cast<std::size_t>(t)] = bo;
    c_off[static_cast<std::size_t>(t)] = co;
  }
  const I64 ars = va.strides[ra], acs = va.strides[ra + 1];
  const I64 brs = vb.strides[rb], bcs = vb.strides[rb + 1];
  // parallel_sgemm blocks each product the same way whatever the thread count (determinism);
  // TBB runs its nested loops inside the outer one when the batch already fills the threads.
  tbb::parallel_for(tbb::blocked_range<I64>(0, nbatch), [&](const tbb::blocked_range<I64>& rg) {
    std::vector<float> pa, pb;  // transposed operands, packed (a nested loop may steal a task)
    for (I64 t = rg.begin(); t != rg.end(); ++t) {
      const auto k = static_cast<std::size_t>(t);
      gemm::MatRef A = matrix_at(a.f.data() + a_off[k], M, K, ars, acs);
      gemm::MatRef B = matrix_at(b.f.data() + b_off[k], K, N, brs, bcs);
      if (A.trans) {
        pack_rows(A, M, K, pa);
        A = {pa.data(), K};
      }
      if (B.trans) {
        pack_rows(B, K, N, pb);
        B = {pb.data(), N};
      }
      gemm::parallel_sgemm(M, N, K, 1.0f, A, B, 0.0f, y.f.data() + c_off[k], ldc, epi);
    }
  });
}

// Traits. A MatMul by a constant runs as a Gemm.
OpClass matmul_class(const Network& net, const OpNode& n) {
  return n.has_input(1) && net.model.is_constant(n.inputs[1]) ? OpClass::Gemm : OpClass::MatMul;
}

I64 gemm_macs(const OpNode& n, const Shape& x, const Shape&, const Shape& y) {
  return x.size() == 2 ? numel(y) * (n.attr_int("transA", 0) ? x[0] : x[1]) : 0;
}

I64 matmul_macs(const OpNode&, const Shape& x, const Shape&, const Shape& y) {
  return x.empty() ? 0 : numel(y) * x.back();
}

// Y [..., M, N], K from the MACs: one [rows x K] by [K x N] product per leading index when
// both operands are activations, else one product over all leading rows.
GemmView product_view(const Shape& x, const Shape& y, I64 macs, bool batched) {
  if (y.empty() || x.empty()) return {};
  const I64 cols = y.back();
  const I64 rows = y.size() >= 2 ? y[y.size() - 2] : 1;
  const I64 k = cols > 0 && numel(y) > 0 ? macs / numel(y) : 0;
  const I64 count = batched ? numel(y) / std::max<I64>(1, rows * cols) : 1;
  return {count, batched ? rows : numel(y) / std::max<I64>(1, cols), cols, k};
}

GemmView gemm_view(const OpNode&, const Shape& x, const Shape&, const Shape& y, I64 macs, bool) {
  return product_view(x, y, macs, false);
}

GemmView matmul_view(const OpNode&, const Shape& x, const Shape&, const Shape& y, I64 macs,
                     bool weight_is_activation) {
  return product_view(x, y, macs, weight_is_activation);
}

int gemm_weight_axis(const OpNode& n, const Shape&) {
  return n.attr_int("transB", 0) ? 0 : 1;
}

int matmul_weight_axis(const OpNode&, const Shape& w) {
  return w.empty() ? -1 : static_cast<int>(w.size()) - 1;  // [..., K, N]
}

// ---- Backward rules: each gradient is one more GEMM with the same kernel ----

// Y = alpha op(A) op(B) + beta C: d op(A) = alpha dY op(B)^T, d op(B) = alpha op(A)^T dY.
void gemm_grad(const GradContext& c) {
  const Tensor& a = ops::grad_input(c, 0);
  const Tensor& b = ops::grad_input(c, 1);
  const Tensor& dy = ops::out_grad(c);
  const bool ta = c.node.attr_int("transA", 0) != 0, tb = c.node.attr_int("transB", 0) != 0;
  const float alpha = c.node.attr_float("alpha", 1.0f), beta = c.node.attr_float("beta", 1.0f);
  const I64 M = a.shape[ta ? 1 : 0], K = a.shape[ta ? 0 : 1], N = b.shape[tb ? 0 : 1];
  const gemm::MatRef opa{a.f.data(), a.shape[1], ta}, opb{b.f.data(), b.shape[1], tb};
  const gemm::MatRef g{dy.f.data(), N, false}, gt{dy.f.data(), N, true};
  if (Tensor* da = ops::wanted(c, 0)) {
    ops::zero_grad(*da, a.shape);
    if (!ta)
      gemm::parallel_sgemm(M, K, N, alpha, g, {b.f.data(), b.shape[1], !tb}, 0.0f, da->f.data(), K);
    else
      gemm::parallel_sgemm(K, M, N, alpha, opb, gt, 0.0f, da->f.data(), M);
  }
  if (Tensor* db = ops::wanted(c, 1)) {
    ops::zero_grad(*db, b.shape);
    if (!tb)
      gemm::parallel_sgemm(K, N, M, alpha, {a.f.data(), a.shape[1], !ta}, g, 0.0f, db->f.data(), N);
    else
      gemm::parallel_sgemm(N, K, M, alpha, gt, opa, 0.0f, db->f.data(), K);
  }
  if (Tensor* dc = ops::wanted(c, 2)) {
    ops::unbroadcast(dy.f.data(), dy.shape, c.inputs[2]->shape, *dc);
    for (float& v : dc->f) v *= beta;
  }
}

// Batched, broadcasting MatMul: per batch entry dA = dY B^T and dB = A^T dY, into the full
// batch shape first, then summed over the batch axes the input was broadcast along.
void matmul_grad(const GradContext& c) {
  const Tensor& a = ops::grad_input(c, 0);
  const Tensor& b = ops::grad_input(c, 1);
  const Tensor& dy = ops::out_grad(c);
  Shape as = a.shape, bs = b.shape;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const I64 M = as[as.size() - 2], K = as.back(), N = bs.back();
  const Shape abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  const Shape batch = ops::broadcast_shapes(abatch, bbatch);
  const I64 count = numel(batch);
  const auto ia = ops::broadcast_index(batch, abatch), ib = ops::broadcast_index(batch, bbatch);
  for (std::size_t k = 0; k < 2; ++k) {
    Tensor* d = ops::wanted(c, k);
    if (!d) continue;
    const I64 R = k == 0 ? M : K, C = k == 0 ? K : N;
    FloatBuffer full(static_cast<std::size_t>(count * R * C));
    for (I64 q = 0; q < count; ++q) {
      const float* pa = a.f.data() + ia[static_cast<std::size_t>(q)] * M * K;
      const float* pb = b.f.data() + ib[static_cast<std::size_t>(q)] * K * N;
      const gemm::MatRef g{dy.f.data() + q * M * N, N, false};
      float* out = full.data() + q * R * C;
      if (k == 0)
        gemm::parallel_sgemm(M, K, N, 1.0f, g, {pb, N, true}, 0.0f, out, K);
      else
        gemm::parallel_sgemm(K, N, M, 1.0f, {pa, K, true}, g, 0.0f, out, N);
    }
    Shape full_shape = batch;
    full_shape.push_back(R);
    full_shape.push_back(C);
    Shape target = k == 0 ? abatch : bbatch;
    target.push_back(R);
    target.push_back(C);
    ops::unbroadcast(full.data(), full_shape, target, *d);
    d->shape = c.inputs[k]->shape;
  }
}

constexpr OpTraits kGemmTraits{
    OpClass::Gemm,
    PlacementRole::Compute,
    {.macs = gemm_macs, .gemm_view = gemm_view, .weight_channel_axis = gemm_weight_axis}};
constexpr OpTraits kMatMulTraits{OpClass::MatMul,
                                 PlacementRole::Compute,
                                 {.refine_class = matmul_class,
                                  .macs = matmul_macs,
                                  .gemm_view = matmul_view,
                                  .weight_channel_axis = matmul_weight_axis}};

}  // namespace

void register_gemm_ops(OpTable& t) {
  t.push_back({"Gemm", kGemmTraits, gemm_kernel, nullptr, true, false, false, true});
  t.back().backward = gemm_grad;
  t.push_back({"MatMul", kMatMulTraits, matmul_kernel, nullptr, true, false, true, true, false,
               false, true, true});
  t.back().backward = matmul_grad;
}

}  // namespace mpq
