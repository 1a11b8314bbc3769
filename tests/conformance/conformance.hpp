#pragma once
// Runs one ONNX backend test case (model.onnx + test_data_set_*/{input,output}_*.pb).
#include <string>

namespace mpq::conformance {

enum class Outcome { Pass, Fail, Rejected, Skipped };

struct CaseResult {
  Outcome outcome = Outcome::Skipped;
  std::string detail;  // why it failed, was rejected or skipped
};

struct Tolerance {
  double rtol = 1e-4;
  double atol = 1e-5;
};

CaseResult run_case(const std::string& dir, const Tolerance& tol);

}  // namespace mpq::conformance
