// hnswlib reference for scripts/bench-index: builds an HNSW graph (M 16,
// ef_construction 200) over raw float32 vectors and searches a query set at
// each ef, in process, on THREADS threads. Prints "build SECONDS", then
// "ef EF RECALL QPS" per ef (recall@10 against the given ground truth).
// Built with -march=native from Debian's libhnswlib-dev (header-only).
//
// usage: hnsw_bench BASE.f32 QUERIES.f32 TRUTH.i32 DIM THREADS EF[,EF...]
#include <hnswlib/hnswlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

template <typename T>
static std::vector<T> Load(const char* path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    std::fprintf(stderr, "hnsw_bench: cannot open %s\n", path);
    std::exit(1);
  }
  std::vector<T> v(size_t(in.tellg()) / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(T)));
  return v;
}

template <typename Fn>
static void Parallel(size_t n, int threads, Fn&& fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
    });
  for (auto& t : ts) t.join();
}

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: hnsw_bench BASE.f32 QUERIES.f32 TRUTH.i32 DIM THREADS EF[,EF...]\n");
    return 2;
  }
  const std::vector<float> base = Load<float>(argv[1]), queries = Load<float>(argv[2]);
  const std::vector<int32_t> truth = Load<int32_t>(argv[3]);
  const size_t dim = std::stoul(argv[4]), n = base.size() / dim, nq = queries.size() / dim;
  const int threads = std::stoi(argv[5]);
  if (n == 0 || nq == 0 || truth.size() < nq * 10) {
    std::fprintf(stderr, "hnsw_bench: no vectors, no queries or too little ground truth\n");
    return 1;
  }
  hnswlib::L2Space space(dim);
  hnswlib::HierarchicalNSW<float> index(&space, n, 16, 200);
  auto t0 = std::chrono::steady_clock::now();
  index.addPoint(base.data(), 0);
  Parallel(n - 1, threads, [&](size_t i) { index.addPoint(base.data() + (i + 1) * dim, i + 1); });
  std::printf("build %.3f\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::stringstream efs(argv[6]);
  for (std::string ef; std::getline(efs, ef, ',');) {
    index.setEf(std::stoul(ef));
    std::vector<std::vector<size_t>> got(nq);
    auto t = std::chrono::steady_clock::now();
    Parallel(nq, threads, [&](size_t q) {
      auto r = index.searchKnn(queries.data() + q * dim, 10);
      while (!r.empty()) got[q].push_back(r.top().second), r.pop();
    });
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    double hits = 0;
    for (size_t q = 0; q < nq; ++q) {
      std::set<size_t> want(truth.begin() + q * 10, truth.begin() + q * 10 + 10);
      for (size_t id : got[q]) hits += want.count(id);
    }
    std::printf("ef %s %.4f %.0f\n", ef.c_str(), hits / (10.0 * nq), nq / secs);
  }
  return 0;
}
