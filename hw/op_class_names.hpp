#pragma once
// The op classes an accelerator description may name. graph/op_class.hpp classifies ops into the
// same strings; hw only sees the strings (a test checks that both lists agree).
#include <array>
#include <string_view>

namespace mpq::hw {

inline constexpr std::array<std::string_view, 12> kOpClassNames = {
    "conv",       "depthwise_conv", "conv_transpose", "gemm",   "matmul",        "elementwise",
    "activation", "pooling",        "normalization",  "resize", "data_movement", "other"};

// Classes whose ops multiply-accumulate and therefore need a throughput.
inline constexpr std::array<std::string_view, 5> kMacOpClassNames = {
    "conv", "depthwise_conv", "conv_transpose", "gemm", "matmul"};

bool is_op_class_name(std::string_view s);
bool is_mac_op_class(std::string_view s);

}  // namespace mpq::hw
