#pragma once
// Loads an accelerator description from YAML (schema: configs/hw/README.md). Loading is strict:
// unknown keys, missing required keys, wrong types, throughputs <= 0 and undeclared candidates
// are all errors "file:line: key: what is wrong" (every problem of the file, one per line).
#include <string>

#include "accelerator.hpp"
#include "core/result.hpp"

namespace mpq::hw {

Result<Accelerator> load_accelerator(const std::string& path);
// `text` is the YAML; `path` names it in messages and anchors relative paths (measured.csv).
Result<Accelerator> parse_accelerator(const std::string& text, const std::string& path);

}  // namespace mpq::hw
