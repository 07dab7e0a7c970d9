// Uses only the installed public headers: opens a store read-only, searches
// it for one vector given on the command line, prints "id distance tier" per
// hit. scripts/test-install checks its output against `aether search`.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "aether/store.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: nearest STORE X1 [X2 ...]\n");
    return 64;
  }
  std::vector<float> q;
  for (int i = 2; i < argc; ++i) q.push_back(std::strtof(argv[i], nullptr));
  aether::OpenOptions o;  // read-only by default
  auto store = aether::Store::Open(argv[1], o);
  if (!store.ok()) {
    std::fprintf(stderr, "nearest: %s\n", store.status().ToString().c_str());
    return 1;
  }
  aether::SearchOptions so;
  so.k = 3;
  so.record_access = false;  // only read: no access recorded, nothing queued
  auto hits = (*store)->Search({q}, so);
  if (!hits.ok()) {
    std::fprintf(stderr, "nearest: %s\n", hits.status().ToString().c_str());
    return 1;
  }
  for (const auto& h : (*hits)[0]) std::printf("%s %.6g %s\n", h.id.c_str(), h.distance, aether::TierName(h.tier));
  return 0;
}
