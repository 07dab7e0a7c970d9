/* Single-thread memory read bandwidth: sums a 512 MiB buffer (far larger
 * than any cache) with eight independent 64-bit accumulators, best of 5
 * passes. Prints bytes per second. Built and run by scripts/bench. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
  const size_t bytes = (size_t)512 << 20, n = bytes / 8;
  uint64_t* a = malloc(bytes);
  if (!a) return 1;
  memset(a, 1, bytes);
  double best = 1e9;
  uint64_t sink = 0;
  for (int pass = 0; pass < 5; ++pass) {
    double t = now();
    uint64_t s[8] = {0};
    for (size_t i = 0; i < n; i += 8)
      for (int j = 0; j < 8; ++j) s[j] += a[i + j];
    for (int j = 0; j < 8; ++j) sink += s[j];
    t = now() - t;
    if (t < best) best = t;
  }
  printf("%.0f %llu\n", bytes / best, (unsigned long long)(sink & 1));
  return 0;
}
