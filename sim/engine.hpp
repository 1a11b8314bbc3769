#pragma once
// Executes a prepared Network on float batches: a fixed plan of kernel calls in topological
// order over numbered value slots. Not thread-safe: use one Engine per thread.
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "graph/network.hpp"
#include "graph/result.hpp"
#include "op_registry.hpp"

namespace mpq {

class Engine {
 public:
  // `net` must outlive the engine.
  static Result<Engine> create(const Network& net);

  // Inputs in the order of net.model.inputs; returns the outputs in net.model.outputs order.
  Result<std::vector<Tensor>> run(std::span<const Tensor> inputs);
  // Called on a tensor right after it is computed (or given, for a model input): activation
  // quantizers and calibration observers attach here. One hook per tensor; empty clears it.
  using TensorHook = std::function<void(Tensor&)>;
  Status set_hook(const std::string& tensor, TensorHook hook);
  void clear_hooks();
  // Makes a constant read `t` instead (a fake-quantized weight); nullptr restores the model's.
  // `t` must outlive every later run.
  Status set_constant(const std::string& name, const Tensor* t);

  // Shape and dtype of every value computed by the last run (for shape inference).
  void record_shapes(Network& net) const;
  // Every tensor of the last run in slot order, as (name, value), for inspection and tests.
  std::vector<std::pair<std::string, const Tensor*>> values() const;

 private:
  struct Step {
    const OpSpec* spec;
    std::size_t node;
    std::vector<int> in;   // slot per input, -1 when omitted
    std::vector<int> out;  // slot per output, -1 when unused
  };
  const Network* net_ = nullptr;
  std::vector<Step> steps_;
  std::vector<std::string> slot_names_;
  std::vector<const Tensor*> slots_;  // constants point into the model, others into owned_
  std::vector<Tensor> owned_;
  std::vector<int> input_slots_, output_slots_;
  std::vector<TensorHook> hooks_;  // per slot
  std::map<std::string, int> slot_of_;
};

}  // namespace mpq
