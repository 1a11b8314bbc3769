#pragma once
// A model file loaded and prepared (folds, shapes) for a test; a failure fails the calling test.
#include <gtest/gtest.h>

#include <string>

#include "graph/onnx_import.hpp"
#include "sim/prepare.hpp"

namespace mpq::test {

inline Network prepared(const std::string& path, const PrepareOptions& opts = {},
                        const ImportOptions& io = {}) {
  auto m = load_onnx(path, io);
  EXPECT_TRUE(m.ok()) << path << ": " << m.error().message;
  auto n = prepare_network(std::move(m).value(), opts);
  EXPECT_TRUE(n.ok()) << path << ": " << n.error().message;
  return std::move(n).value();
}

// configs/models/NAME.onnx
inline std::string bundled_model(const std::string& name) {
  return std::string(MPQ_SOURCE_DIR) + "/configs/models/" + name + ".onnx";
}

}  // namespace mpq::test
