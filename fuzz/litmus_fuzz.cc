// fuzz/litmus_fuzz.cc — libFuzzer harness for what `faultline litmus
// --memory-model lkmm` does with a file: parse it as a litmus test, then
// decide it under the axiomatic LKMM (src/check/lkmm.cc) within a small
// time limit. Every input must end in a verdict, an unfinished run, a
// parse error or a LitmusUnsupported naming what the model leaves to `weak`
// — std::invalid_argument, both — and never in a crash, another exception,
// a hang (libFuzzer's -timeout) or memory that grows with a number in the
// input (-rss_limit_mb), under ASan and UBSan.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "check/litmus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    faultline_check::Litmus t = faultline_check::parse_litmus(text);
    faultline_check::LitmusRun r = faultline_check::run_litmus_lkmm(t, 0.2);
    if (!r.unfinished) (void)r.verdict();
  } catch (const std::invalid_argument&) {  // unreadable, another architecture, or not taken
  }
  return 0;
}
