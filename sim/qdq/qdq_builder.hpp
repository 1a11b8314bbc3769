#pragma once
// A small helper for emitting an ONNX graph: fresh tensor names, typed initializers and the
// Q/DQ, Clip and Cast nodes the exporter inserts.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "qdq_format.hpp"

namespace mpq {

class QdqBuilder {
 public:
  explicit QdqBuilder(onnx::GraphProto& g) : g_(g) {}

  // Reserves `name` (an existing tensor) so that fresh() never returns it.
  void reserve(const std::string& name) { used_.insert(name); }
  // `base`, or `base` with a numeric suffix, not yet used in the graph.
  std::string fresh(const std::string& base);

  void add_floats(const std::string& name, const std::vector<float>& v,
                  const std::vector<std::int64_t>& dims);
  void add_raw(const std::string& name, OnnxType type, const std::string& raw,
               const std::vector<std::int64_t>& dims);
  // Scale (FLOAT) and zero point (`type`) of a quantizer, scalars when there is one value.
  void add_scale_zero(const std::string& scale_name, const std::string& zp_name, OnnxType type,
                      const std::vector<float>& scale, const std::vector<std::int32_t>& zp);

  onnx::NodeProto& add_node(const std::string& op, const std::vector<std::string>& inputs,
                            const std::vector<std::string>& outputs);
  static void set_int(onnx::NodeProto& n, const std::string& key, std::int64_t v);

 private:
  onnx::GraphProto& g_;
  std::set<std::string> used_;
};

}  // namespace mpq
