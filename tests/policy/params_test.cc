#include "policy/params.h"

#include <doctest/doctest.h>

#include <cmath>

#include "policy/eviction.h"

using namespace aether;

TEST_CASE("feedback is an EMA clamped to [0, 1]") {
  CHECK(FeedbackImportance(0.5, 1.0) == doctest::Approx(0.6));
  CHECK(FeedbackImportance(0.5, 0.0) == doctest::Approx(0.4));
  double imp = 0;
  for (int i = 0; i < 100; ++i) imp = FeedbackImportance(imp, 1.0);
  CHECK(imp == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(imp <= 1.0);
  CHECK(FeedbackImportance(1.0, 1.0) == 1.0);
}

TEST_CASE("temperature decays to its floor, rises under pressure, and is capped") {
  PolicyParams p = ResolveParams({});
  double t = 1.0;
  for (int i = 0; i < 200; ++i) t = NextTemperature(t, false, p);
  CHECK(t == doctest::Approx(p.min_temperature));
  CHECK(NextTemperature(1.0, false, p) == doctest::Approx(0.95));
  CHECK(NextTemperature(1.0, true, p) == doctest::Approx(0.95 * 1.5));
  for (int i = 0; i < 50; ++i) t = NextTemperature(t, true, p);
  CHECK(t == doctest::Approx(p.max_temperature));
}

TEST_CASE("sigmoid and eviction score follow the documented formulas") {
  CHECK(Sigmoid(0, 3) == doctest::Approx(0.5));
  CHECK(Sigmoid(1.5, 1) == doctest::Approx(1 / (1 + std::exp(-1.5))));
  EvictionWeights w{1, 1, 1, 0};
  AccessStats s{0, 3, 0.5, 1};
  // 2 hours since access, 3 accesses, importance 0.5.
  CHECK(EvictionScore(w, s, 2 * 3600000) == doctest::Approx(-2 + std::log(4.0) + 0.5));
}

TEST_CASE("restore backoff doubles from the base up to the cap") {
  CHECK(BackoffDelayMs(60000, 3600000, 1) == 60000);
  CHECK(BackoffDelayMs(60000, 3600000, 2) == 120000);
  CHECK(BackoffDelayMs(60000, 3600000, 5) == 960000);
  CHECK(BackoffDelayMs(60000, 3600000, 7) == 3600000);
  CHECK(BackoffDelayMs(60000, 3600000, 1000) == 3600000);
}

TEST_CASE("every parameter has a default inside its range, and presets stay in range") {
  for (const auto& p : AllParams()) {
    CHECK_MESSAGE(p.default_value >= p.min, p.key);
    CHECK_MESSAGE(p.default_value <= p.max, p.key);
  }
  for (const auto& preset : Presets())
    for (const auto& setting : preset.second) {
      const std::string& name = preset.first;
      const std::string& key = setting.first;
      const double v = setting.second;
      const ParamSpec* spec = FindParam(key);
      REQUIRE_MESSAGE(spec != nullptr, name << ": " << key);
      CHECK_MESSAGE((v >= spec->min && v <= spec->max), name << ": " << key);
    }
  CHECK(Presets().count("aggressive"));
  CHECK(Presets().count("conservative"));
  CHECK(Presets().count("disabled"));
}
