#include "cli.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace aether::cli {

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return kExitOk;
    case Code::kNotFound: return kExitNoInput;
    case Code::kInvalidArgument: return kExitUsage;
    case Code::kBadInput: return kExitBadInput;
    case Code::kBusy: return kExitBusy;
    case Code::kCorruption: return kExitCorruption;
    case Code::kIOError: return kExitIOError;
    case Code::kNotSupported: return kExitNewerFormat;
    case Code::kAlreadyExists: return kExitCantCreate;
    case Code::kFailedPrecondition: return kExitUnavailable;
    case Code::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

int Fail(const Status& s) {
  std::fflush(stdout);
  fmt::print(stderr, "aether: error: {}\n", s.message());
  return ExitCodeFor(s);
}

bool g_quiet = false;
bool g_verbose = false;

void Warn(const std::string& message) {
  if (!g_quiet) fmt::print(stderr, "aether: {}\n", message);
}

Result<std::unique_ptr<Store>> OpenStore(const StoreArgs& args, AccessMode mode) {
  OpenOptions o;
  o.access = mode;
  o.wait_seconds = args.wait;
  AETHER_ASSIGN_OR_RETURN(auto store, Store::Open(args.store, o));
  if (g_verbose)
    for (const auto& r : store->replayed())
      fmt::print(stderr, "aether: recovered migration {} ({}, {} items, state {}): {}\n", r.migration_id, r.kind,
                 r.items, r.from_state, r.action);
  return store;
}

void AddStoreArgs(CLI::App* app, StoreArgs* args) {
  app->add_option("store", args->store, "Store directory (or set AETHER_STORE)")
      ->envname("AETHER_STORE")
      ->required();
  app->add_option("--wait", args->wait, "Seconds to wait for the store lock before failing as busy")
      ->default_val(5.0)
      ->check(CLI::NonNegativeNumber);
}

Status Input::Open(const std::string& path, const std::string& what) {
  if (path == "-") return Status::Ok();
  file_.open(path, std::ios::binary);
  if (!file_) return Status::NotFound(path + ": cannot open " + what);
  in_ = &file_;
  name_ = path;
  return Status::Ok();
}

bool StdoutIsTty() { return isatty(1) == 1; }

nlohmann::json FloatJson(float f) { return std::stod(fmt::format("{}", f)); }

std::string ClosestName(const std::string& name, const std::vector<std::string>& names) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = 3;  // suggest only close names
  for (const auto& n : names) {
    size_t d = distance(name, n);
    if (d < best_d) best_d = d, best = n;
  }
  return best;
}

}  // namespace aether::cli
