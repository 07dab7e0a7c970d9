// FittedStem and TempNameFor: the names aether makes beside a user's name
// fit a file name (format-spec/README.md, "Names aether makes beside a
// user's name"); the hash is FNV-1a's, checked against its published
// test vectors.
#include <doctest/doctest.h>

#include <string>

#include "aether/env.h"

using namespace aether;

TEST_CASE("FittedStem: the name itself while it fits, else its first bytes, '~' and the FNV-1a hash of the whole") {
  CHECK(FittedStem("mem", 30) == "mem");
  const std::string fits(225, 'a');
  CHECK(FittedStem(fits, 30) == fits);  // 255 bytes with the reserve: fits
  // FNV-1a 32 published vectors: "a" e40c292c, "foobar" bf9cf968.
  CHECK(FittedStem("a", 255) == "~e40c292c");
  CHECK(FittedStem("foobar", 250) == "~bf9cf968");
  for (size_t reserve : {size_t(21), size_t(23), size_t(30), size_t(60)}) {
    CAPTURE(reserve);
    for (size_t length : {size_t(255) - reserve + 1, size_t(255), size_t(4000)}) {
      const std::string name(length, 'n');
      const std::string stem = FittedStem(name, reserve);
      CHECK(stem.size() + reserve == 255);
      CHECK(stem.compare(0, stem.size() - 9, name, 0, stem.size() - 9) == 0);
      CHECK(stem[stem.size() - 9] == '~');
      CHECK(FittedStem(name, reserve) == stem);  // the same every time
    }
    // Names that differ only past the kept bytes get different stems.
    CHECK(FittedStem(std::string(254, 'n') + "x", reserve) != FittedStem(std::string(254, 'n') + "y", reserve));
  }
  // Never inside a UTF-8 character: 2-byte characters are kept whole.
  std::string e;
  for (int i = 0; i < 127; ++i) e += "\xC3\xA9";
  for (size_t reserve : {size_t(21), size_t(22), size_t(23)}) {
    const std::string stem = FittedStem(e + "!", reserve);
    CHECK(stem.size() + reserve <= 255);
    const size_t kept = stem.size() - 9;
    CHECK(kept % 2 == 0);
    CHECK(stem.compare(0, kept, e, 0, kept) == 0);
  }
}

TEST_CASE("TempNameFor: '<path>.<16 hex>.tmp', its file name part shortened only where the whole would not fit") {
  Env* env = Env::Default();
  const std::string t = TempNameFor(env, "/d/meta.db");
  REQUIRE(t.size() == std::string("/d/meta.db").size() + 21);
  CHECK(t.rfind("/d/meta.db.", 0) == 0);
  CHECK(t.compare(t.size() - 4, 4, ".tmp") == 0);
  CHECK(TempNameFor(env, "/d/meta.db") != t);  // random
  const std::string long_name(250, 'x');
  const std::string u = TempNameFor(env, "/d/" + long_name);
  CHECK(u.rfind("/d/" + FittedStem(long_name, 21) + ".", 0) == 0);
  CHECK(u.size() - 3 == 255);
}
