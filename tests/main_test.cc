#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>

// Pressure levels judge the machine's free memory and disk (README
// "Pressure levels"): the tests pin those readings (every aether they run
// inherits them) so that a full disk on a test machine changes no placement.
// The tests of pressure itself set their own; one reads the real ones.
int main(int argc, char** argv) {
  setenv("AETHER_PRESSURE", "memory=0.5,disk=0.5,disk_bytes=100000000000", /*overwrite=*/0);
  return doctest::Context(argc, argv).run();
}
