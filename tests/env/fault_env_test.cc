// FaultEnv (lib/env/fault_env.h), the in-process crash tests' disk: checked
// against what a power cut is allowed to leave, on real files.
#include "env/fault_env.h"

#include <doctest/doctest.h>

#include "test_util.h"

using namespace aether;
using aether::test::ReadFile;
using aether::test::TempDir;

namespace {

void Put(Env* env, const std::string& path, uint64_t at, const std::string& data, bool sync) {
  auto f = env->Open(path, OpenMode::kCreate);
  REQUIRE(f.ok());
  REQUIRE((*f)->Write(at, data.data(), data.size()).ok());
  if (sync) REQUIRE((*f)->Sync().ok());
}

}  // namespace

TEST_CASE("fault env: a power cut keeps synced bytes and names, and nothing else") {
  TempDir dir;
  const std::string a = dir / "a", b = dir / "b", c = dir / "c", d = dir / "d";
  Put(Env::Default(), a, 0, "0123456789", true);
  Put(Env::Default(), d, 0, "old d", true);
  FaultEnv env(Env::Default());
  // a: synced change, then an unsynced overwrite, growth and a truncate
  Put(&env, a, 0, "AB", true);
  Put(&env, a, 5, "xyz", false);
  Put(&env, a, 10, "grown", false);
  {
    auto f = env.Open(a, OpenMode::kReadWrite);
    REQUIRE((*f)->Truncate(12).ok());
  }
  // c: created, synced, directory synced: stays, with its synced bytes only
  Put(&env, c, 0, "kept", true);
  REQUIRE(env.SyncDir(dir.path()).ok());
  Put(&env, c, 4, "+lost", false);
  // b: created and synced, but its directory not synced since: gone
  Put(&env, b, 0, "new", true);
  // d: replaced by a rename that no directory sync covered: the old d is back
  Put(&env, dir / "t", 0, "new d", true);
  REQUIRE(env.Rename(dir / "t", d).ok());
  CHECK(ReadFile(a) == "AB234xyz89gr");
  CHECK(ReadFile(d) == "new d");

  REQUIRE(env.DropUnsynced().ok());
  CHECK(ReadFile(a) == "AB23456789");
  CHECK(Env::Default()->TypeOf(b) == FileType::kMissing);
  CHECK(ReadFile(c) == "kept");
  CHECK(ReadFile(d) == "old d");
  CHECK(Env::Default()->TypeOf(dir / "t") == FileType::kMissing);
}

TEST_CASE("fault env: a removal or a new directory not made durable is undone") {
  TempDir dir;
  Put(Env::Default(), dir / "f", 0, "precious", true);
  FaultEnv env(Env::Default());
  REQUIRE(env.CreateDir(dir / "g").ok());
  Put(&env, dir / "g/inner", 0, "x", true);
  REQUIRE(env.SyncDir(dir / "g").ok());  // inner is durable in g, but g is not
  REQUIRE(env.RemoveFile(dir / "f").ok());
  REQUIRE(env.DropUnsynced().ok());
  CHECK(ReadFile(dir / "f") == "precious");
  CHECK(Env::Default()->TypeOf(dir / "g") == FileType::kMissing);
}

TEST_CASE("fault env: step n fails, alone or with every later step") {
  TempDir dir;
  for (bool and_after : {false, true}) {
    FaultEnv env(Env::Default());
    env.FailAt(3, and_after);
    auto f = env.Open(dir / (and_after ? "x" : "y"), OpenMode::kCreate);  // step 1
    REQUIRE(f.ok());
    CHECK((*f)->Write(0, "a", 1).ok());  // 2
    CHECK(!env.failed());
    Status third = (*f)->Sync();  // 3
    CHECK(third.code() == Code::kIOError);
    CHECK(third.message().find("step 3") != std::string::npos);
    CHECK(env.failed());
    CHECK((*f)->Write(1, "b", 1).ok() == !and_after);   // 4
    CHECK(env.SyncDir(dir.path()).ok() == !and_after);  // 5
    CHECK(env.steps() == 5);
  }
}
