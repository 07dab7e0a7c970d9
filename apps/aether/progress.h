// A progress line on stderr ("descend 5000/100000 12000/s ETA 8s"), shown
// only when stderr is a terminal unless forced, and never in --log-format
// json (every stderr line is a JSON object there); tests never see it.
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "log.h"

namespace aether::cli {

class Progress {
 public:
  // mode: "auto" (stderr is a TTY), "on" or "off".
  Progress(std::string label, const std::string& mode)
      : label_(std::move(label)), enabled_(!g_log.json && (mode == "on" || (mode == "auto" && isatty(2) == 1))) {}
  ~Progress() { Finish(); }

  void Update(uint64_t done, uint64_t total) {
    if (!enabled_) return;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double rate = secs > 0 ? double(done) / secs : 0;
    double eta = rate > 0 && total > done ? double(total - done) / rate : 0;
    // fputs, not fmt::print: a standard error that refuses writes loses the
    // line rather than throwing through the library's progress callback.
    if (total > 0)
      std::fputs(fmt::format("\r{} {}/{} {:.0f}/s ETA {:.0f}s   ", label_, done, total, rate, eta).c_str(), stderr);
    else
      std::fputs(fmt::format("\r{} {} {:.0f}/s   ", label_, done, rate).c_str(), stderr);
    std::fflush(stderr);
    shown_ = true;
  }
  void Finish() {
    if (shown_) std::fputs("\n", stderr);
    shown_ = false;
  }

 private:
  std::string label_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace aether::cli
