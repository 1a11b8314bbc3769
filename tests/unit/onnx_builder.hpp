#pragma once
// Builds small ONNX models in tests with the ONNX protobuf types, so unit tests need no files.
#include <onnx/onnx_pb.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace mpq::test {

struct OnnxBuilder {
  onnx::ModelProto model;
  onnx::GraphProto* g;

  explicit OnnxBuilder(int opset = 13) {
    model.set_ir_version(7);
    model.set_producer_name("mpq-test");
    auto* op = model.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    g = model.mutable_graph();
    g->set_name("test");
  }

  static void set_shape(onnx::ValueInfoProto* v, const std::vector<std::int64_t>& dims,
                        int elem = onnx::TensorProto::FLOAT) {
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* s = tt->mutable_shape();
    for (auto d : dims) {
      auto* dim = s->add_dim();
      if (d < 0)
        dim->set_dim_param("N");
      else
        dim->set_dim_value(d);
    }
  }
  void input(const std::string& name, const std::vector<std::int64_t>& dims,
             int elem = onnx::TensorProto::FLOAT) {
    auto* v = g->add_input();
    v->set_name(name);
    set_shape(v, dims, elem);
  }
  void output(const std::string& name, const std::vector<std::int64_t>& dims) {
    auto* v = g->add_output();
    v->set_name(name);
    set_shape(v, dims);
  }
  static onnx::TensorProto tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                                  const std::vector<float>& v) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t.add_dims(d);
    for (float x : v) t.add_float_data(x);
    return t;
  }
  static onnx::TensorProto int_tensor(const std::string& name,
                                      const std::vector<std::int64_t>& dims,
                                      const std::vector<std::int64_t>& v) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::INT64);
    for (auto d : dims) t.add_dims(d);
    for (auto x : v) t.add_int64_data(x);
    return t;
  }
  void initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                   const std::vector<float>& v) {
    *g->add_initializer() = tensor(name, dims, v);
  }
  // A weight given as a Constant node, as exporters other than PyTorch write them.
  void constant(const std::string& name, const onnx::TensorProto& t) {
    auto* n = g->add_node();
    n->set_op_type("Constant");
    n->set_name(name + "_const");
    n->add_output(name);
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    *a->mutable_t() = t;
    a->mutable_t()->set_name(name);
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& ins,
                        const std::vector<std::string>& outs, const std::string& name = "") {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? outs.at(0) + "_node" : name);
    for (const auto& i : ins) n->add_input(i);
    for (const auto& o : outs) n->add_output(o);
    return n;
  }
  static void attr_int(onnx::NodeProto* n, const std::string& key, std::int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_float(onnx::NodeProto* n, const std::string& key, float v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr_string(onnx::NodeProto* n, const std::string& key, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  // A scalar float initializer, named after its value's role.
  std::string scalar(const std::string& name, float v) {
    initializer(name, {}, {v});
    return name;
  }
  static void attr_ints(onnx::NodeProto* n, const std::string& key,
                        const std::vector<std::int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  std::string save(const std::string& file) const {
    // One directory per process: ctest runs each test case as its own process, in parallel,
    // and cases of one suite save models under the same names.
    const auto dir =
        std::filesystem::temp_directory_path() / "mpq_unit_tests" / std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    const std::string path = (dir / file).string();
    std::ofstream out(path, std::ios::binary);
    model.SerializeToOstream(&out);
    return path;
  }
};

inline std::vector<float> random_values(std::size_t n, unsigned seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace mpq::test
