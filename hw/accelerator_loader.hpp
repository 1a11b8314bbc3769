#pragma once
// Loads an accelerator description from YAML (schema: configs/hw/README.md). Loading is strict:
// unknown keys, missing required keys, wrong types, throughputs <= 0 and undeclared candidates
// are all errors "file:line: key: what is wrong" (every problem of the file, one per line).
#include <string>

#include "accelerator.hpp"
#include "core/result.hpp"
#include "fusion_rules.hpp"

namespace mpq::hw {

// `op_kinds`: what the op types its fusion rules name are (search/'s fusion_op_kind).
Result<Accelerator> load_accelerator(const std::string& path, FusionOpKinds op_kinds);
// `text` is the YAML; `path` names it in messages and anchors relative paths (measured.csv).
Result<Accelerator> parse_accelerator(const std::string& text, const std::string& path,
                                      FusionOpKinds op_kinds);

}  // namespace mpq::hw
