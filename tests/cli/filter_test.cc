// --where against a reference: random filter expressions (comparisons on
// every field and on payload paths, in, exists, not, and, or; random
// spacing) over memories of both tiers with varied payloads, evaluated here
// by an evaluator written from the README's rules, must select exactly
// what list, export and delete --dry-run select; delete --where then
// deletes just that. Every malformed filter is exit 64 naming the spot.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;

namespace {

// A filter as a tree: rendered to text for aether, evaluated here.
struct Expr {
  std::string kind;          // cmp, in, exists, not, and, or
  std::string field;         // id, tier, ..., or "payload"
  std::vector<json> path;    // payload path: strings (members) and unsigned (indexes)
  std::string op;            // cmp: == != < <= > >=
  std::vector<json> values;  // cmp: one; in: several
  std::vector<Expr> kids;    // not: one; and, or: two or more
};

std::string Render(const Expr& e, std::mt19937_64& rng) {
  auto sp = [&]() { return std::string(rng() % 3 == 0 ? 2 : rng() % 2, ' '); };
  if (e.kind == "not") {
    const bool group = e.kids[0].kind == "and" || e.kids[0].kind == "or";  // not binds tighter
    return "not " + sp() + (group ? "(" : "") + Render(e.kids[0], rng) + (group ? ")" : "");
  }
  if (e.kind == "and" || e.kind == "or") {
    std::string s;
    for (size_t i = 0; i < e.kids.size(); ++i) {
      // Parentheses where precedence needs them (an or inside an and, an
      // and/or chain inside one of its own kind, left to the reader either
      // way), and at random elsewhere.
      const std::string& k = e.kids[i].kind;
      const bool need = k == "or" || k == e.kind || (k == "and" && e.kind == "and");
      const bool paren = need || rng() % 2;
      s += (i ? " " + e.kind + " " + sp() : "") + (paren ? "(" + sp() : "") + Render(e.kids[i], rng) +
           (paren ? sp() + ")" : "");
    }
    return s;
  }
  std::string operand = e.field;
  for (const json& step : e.path)
    operand += step.is_string() && step.get<std::string>().find_first_of(" \x80\xc3") == std::string::npos && rng() % 2
                   ? "." + step.get<std::string>()
                   : "[" + step.dump() + "]";
  if (e.kind == "exists") return "exists(" + sp() + operand + sp() + ")";
  if (e.kind == "in") {
    std::string s = operand + " in [";
    for (size_t i = 0; i < e.values.size(); ++i) s += (i ? "," + sp() : "") + e.values[i].dump();
    return s + "]";
  }
  return operand + sp() + e.op + sp() + e.values[0].dump();
}

// The operand's value, or nullptr when absent.
const json* Resolve(const Expr& e, const json& mem, json* scratch) {
  if (e.field != "payload") return &(*scratch = mem.at(e.field));
  const json* at = &mem.at("payload");
  if (at->is_null()) return nullptr;  // no payload
  for (const json& step : e.path) {
    if (step.is_string()) {
      if (!at->is_object() || !at->contains(step.get<std::string>())) return nullptr;
      at = &at->at(step.get<std::string>());
    } else {
      if (!at->is_array() || step.get<size_t>() >= at->size()) return nullptr;
      at = &at->at(step.get<size_t>());
    }
  }
  return at;
}

// Numbers by value: integers as 128-bit integers, anything else as long
// double (exact for every int64 and uint64 on x86-64).
int NumberOrder(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    auto wide = [](const json& x) {
      return x.is_number_unsigned() ? __int128(x.get<uint64_t>()) : __int128(x.get<int64_t>());
    };
    return wide(a) < wide(b) ? -1 : wide(b) < wide(a) ? 1 : 0;
  }
  auto ld = [](const json& x) {
    return x.is_number_unsigned()  ? (long double)x.get<uint64_t>()
           : x.is_number_integer() ? (long double)x.get<int64_t>()
                                   : (long double)x.get<double>();
  };
  return ld(a) < ld(b) ? -1 : ld(b) < ld(a) ? 1 : 0;
}

bool Equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return NumberOrder(a, b) == 0;
  return a == b;
}

bool Eval(const Expr& e, const json& mem) {
  if (e.kind == "not") return !Eval(e.kids[0], mem);
  if (e.kind == "and") {
    for (const auto& k : e.kids)
      if (!Eval(k, mem)) return false;
    return true;
  }
  if (e.kind == "or") {
    for (const auto& k : e.kids)
      if (Eval(k, mem)) return true;
    return false;
  }
  json scratch;
  const json* v = Resolve(e, mem, &scratch);
  if (!v) return false;
  if (e.kind == "exists") return true;
  if (e.kind == "in") {
    for (const json& x : e.values)
      if (Equal(*v, x)) return true;
    return false;
  }
  const json& w = e.values[0];
  if (e.op == "==") return Equal(*v, w);
  if (e.op == "!=") return !Equal(*v, w);
  int order;
  if (v->is_number() && w.is_number()) {
    order = NumberOrder(*v, w);
  } else if (v->is_string() && w.is_string()) {
    int c = v->get<std::string>().compare(w.get<std::string>());
    order = c < 0 ? -1 : c > 0;
  } else {
    return false;
  }
  if (e.op == "<") return order < 0;
  if (e.op == "<=") return order <= 0;
  if (e.op == ">") return order > 0;
  return order >= 0;
}

const char* const kRooms[] = {"kitchen", "hall", "attic", "Kitchen"};

json RandomPayload(std::mt19937_64& rng, int i) {
  switch (rng() % 8) {
    case 0:
      return json();  // none
    case 1:
      return "a string payload";
    case 2:
      return i;
    default:
      break;
  }
  json p = json::object();
  if (rng() % 5) p["room"] = kRooms[rng() % 4];
  if (rng() % 4) p["n"] = int(rng() % 10);
  if (rng() % 3 == 0) p["n"] = double(rng() % 10) + 0.5;
  if (rng() % 3) p["tags"] = json::array({kRooms[rng() % 4], "t" + std::to_string(rng() % 3)});
  if (rng() % 3 == 0) p["obj"] = {{"k", rng() % 2 ? json(true) : json(nullptr)}};
  if (rng() % 4 == 0) p["weird key"] = "w";
  // Integers past 2^53 and 2^63, of both signs, beside floats near them;
  // a non-ASCII key, and a key that is a keyword of the language.
  static const json kBig[] = {json(uint64_t(18446744073709551615u)),
                              json(int64_t(-1)),
                              json(uint64_t(9223372036854775808u)),
                              json(INT64_MIN),
                              json(int64_t(9007199254740993)),
                              json(9007199254740992.0),
                              json(-0.5)};
  if (rng() % 2) p["big"] = kBig[rng() % 7];
  if (rng() % 3 == 0) p["\xc3\xa9"] = "\xe6\x97\xa5\xe6\x9c\xac";
  if (rng() % 3 == 0) p["and"] = int(rng() % 3);
  return p;
}

// Literals drawn from what the data holds, so comparisons often match.
json RandomLiteral(std::mt19937_64& rng, const std::vector<json>& mems, const Expr& e) {
  switch (rng() % 10) {
    case 0:
      return json();
    case 1:
      return bool(rng() % 2);
    case 2:
      return double(rng() % 20) / 2;
    default:
      break;
  }
  json scratch;
  const json* v = Resolve(e, mems[rng() % mems.size()], &scratch);
  if (v && !v->is_object() && !v->is_array()) return *v;
  return kRooms[rng() % 4];
}

Expr RandomOperand(std::mt19937_64& rng) {
  Expr e;
  static const char* const kFields[] = {"id", "tier", "importance", "created_ms", "last_access_ms", "access_count"};
  if (rng() % 3 == 0) {
    e.field = kFields[rng() % 6];
    return e;
  }
  e.field = "payload";
  switch (rng() % 10) {
    case 7:
    case 8:
      e.path = {"big"};
      break;
    case 9:
      e.path = {rng() % 2 ? "\xc3\xa9" : "and"};
      break;
    case 0:
      break;  // the payload itself
    case 1:
      e.path = {"tags", json(size_t(rng() % 3))};
      break;
    case 2:
      e.path = {"obj", "k"};
      break;
    case 3:
      e.path = {"weird key"};
      break;
    case 4:
      e.path = {"n"};
      break;
    default:
      e.path = {"room"};
  }
  return e;
}

Expr RandomExpr(std::mt19937_64& rng, const std::vector<json>& mems, int depth) {
  Expr e;
  const int pick = int(rng() % (depth > 0 ? 8 : 5));
  if (pick >= 5) {
    e.kind = pick == 5 ? "not" : pick == 6 ? "and" : "or";
    const size_t n = e.kind == "not" ? 1 : 2 + rng() % 2;
    for (size_t i = 0; i < n; ++i) e.kids.push_back(RandomExpr(rng, mems, depth - 1));
    return e;
  }
  e = RandomOperand(rng);
  if (pick == 0) {
    e.kind = "exists";
  } else if (pick == 1) {
    e.kind = "in";
    for (size_t i = 0, n = 1 + rng() % 3; i < n; ++i) e.values.push_back(RandomLiteral(rng, mems, e));
  } else {
    static const char* const kOps[] = {"==", "!=", "<", "<=", ">", ">="};
    e.kind = "cmp";
    e.op = kOps[rng() % 6];
    e.values.push_back(RandomLiteral(rng, mems, e));
  }
  return e;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("--where: random filters select what the reference evaluator selects, in list, export and delete") {
  std::mt19937_64 rng(20261130);
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(80, 3, 77);
  std::string jsonl;
  for (size_t i = 0; i < mems.size(); ++i) {
    json rec = {{"id", mems[i].id}, {"vector", json::parse(VectorJson(mems[i].vec))}};
    json p = RandomPayload(rng, int(i));
    if (!p.is_null()) rec["payload"] = p;
    rec["importance"] = double(rng() % 9) / 8;
    jsonl += rec.dump() + "\n";
  }
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "50"}, jsonl).exit_code == 0);
  REQUIRE(Aether({"descend", store, "m1", "m2", "m3"}).exit_code == 0);
  for (int i = 0; i < 4; ++i)  // access counts and times that differ, some still in the access log
    REQUIRE(Aether({"search", store, "--vector", VectorJson(mems[size_t(i) * 7].vec), "-k", "4"}).exit_code == 0);
  // The reference data: every memory as export sees it.
  std::vector<json> all;
  for (const auto& line : Lines(Aether({"export", store}).out)) all.push_back(json::parse(line));
  REQUIRE(all.size() == mems.size());

  const int trials = SweepSize(150);
  std::map<std::string, int> selectivity;  // none, some, all
  for (int t = 0; t < trials; ++t) {
    Expr e = RandomExpr(rng, all, 2);
    const std::string text = Render(e, rng);
    CAPTURE(text);
    std::vector<std::string> want;
    for (const json& m : all)
      if (Eval(e, m)) want.push_back(m["id"].get<std::string>());
    want = Sorted(want);
    selectivity[want.empty() ? "none" : want.size() == all.size() ? "all" : "some"]++;
    auto r = Aether({"list", store, "--where", text, "--ids-only"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(Lines(r.out) == want);  // list's order is the id order
    if (t % 5 == 0) {
      std::vector<std::string> got;
      for (const auto& line : Lines(Aether({"export", store, "--where", text}).out))
        got.push_back(json::parse(line)["id"].get<std::string>());
      CHECK(Sorted(got) == want);
      auto d = Aether({"delete", store, "--where", text, "--dry-run", "--format", "json"});
      CHECK(d.exit_code == 0);
      CHECK(Sorted(json::parse(d.out)["would_delete"].get<std::vector<std::string>>()) == want);
    }
  }
  MESSAGE("--where: " << trials << " random filters; matched none: " << selectivity["none"]
                      << ", some: " << selectivity["some"] << ", all: " << selectivity["all"]);
  CHECK(selectivity["some"] > trials / 3);

  // Precedence: not binds tighter than and, and than or.
  auto ids = [&](const std::string& where) {
    return Lines(Aether({"list", store, "--where", where, "--ids-only"}).out);
  };
  CHECK(ids("id == \"m1\" or id == \"m2\" and importance > 2") == ids("id == \"m1\""));
  CHECK(ids("not id == \"m1\" and id < \"m2\"") == ids("id != \"m1\" and id < \"m2\""));
  CHECK(ids("not not exists(payload)") == ids("exists(payload)"));

  // delete --where deletes exactly the selection.
  Expr e = RandomExpr(rng, all, 1);
  std::string text;
  std::vector<std::string> gone;
  for (int tries = 0; tries < 100 && (gone.empty() || gone.size() == all.size()); ++tries) {
    e = RandomExpr(rng, all, 1);
    text = Render(e, rng);
    gone.clear();
    for (const json& m : all)
      if (Eval(e, m)) gone.push_back(m["id"].get<std::string>());
  }
  REQUIRE(!gone.empty());
  auto d = Aether({"delete", store, "--where", text, "--format", "json"});
  CHECK(d.exit_code == 0);
  CHECK(json::parse(d.out)["deleted"] == gone.size());
  std::vector<std::string> left;
  for (const json& m : all)
    if (!Eval(e, m)) left.push_back(m["id"].get<std::string>());
  CHECK(Lines(Aether({"list", store, "--ids-only"}).out) == Sorted(left));
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("--where: every malformed filter is exit 64 naming where it stops making sense; nothing changes") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonlWithPayload(RandomMems(5, 2, 3))).exit_code == 0);
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  const auto bytes = DirectoryBytes(store);
  std::string deep;
  for (int i = 0; i < 150; ++i) deep += "not ";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"payload.n = 1", "at character 11, '=' (comparisons are written ==)"},
      {"payload.n >", "at character 12, expected a value"},
      {"importance >= 0.5 and", "at character 22, expected a field"},
      {"room == \"x\"", "at character 1, unknown field 'room'"},
      {"payload..n == 1", "at character 9, expected a member name"},
      {"payload[-1] == 1", "at character 9, a path step is"},
      {"payload[1.5] == 1", "at character 9, a path step is"},
      {"payload.n == \"open", "at character 14, a string that is not closed"},
      {"payload.n == 01", "'01' is not a JSON number"},
      {"payload.n == -", "'-' is not a JSON number"},
      {"payload.n == \"\\x\"", "is not a JSON string"},
      {"payload.n in 1", "expected '[' after in"},
      {"payload.n in [1,", "expected a value"},
      {"payload.n in [1 2]", "expected ',' or ']'"},
      {"(payload.n == 1", "expected ')'"},
      {"payload.n == 1)", "expected 'and', 'or' or the end"},
      {"exists payload", "expected '(' after exists"},
      {"payload.n", "expected a comparison"},
      {"payload.n == 1 & id == \"a\"", "unexpected '&'"},
      {"payload.n == [1]", "expected a value"},
      {deep + "exists(payload)", "nesting deeper than 100 levels"},
  };
  for (const auto& [bad_where, says] : bad) {
    const std::string& where = bad_where;
    CAPTURE(where);
    for (const std::vector<std::string>& args : {std::vector<std::string>{"list", store, "--where", where},
                                                 {"export", store, "--where", where},
                                                 {"delete", store, "--where", where},
                                                 {"delete", store, "--where", where, "--dry-run"}}) {
      auto r = Aether(args);
      CHECK(r.exit_code == 64);
      CHECK_MESSAGE(r.err.find("filter '" + where + "': at character ") != std::string::npos, r.err);
      CHECK_MESSAGE(r.err.find(says) != std::string::npos, r.err);
      CHECK(r.out.empty());
    }
  }
  for (const std::vector<std::string>& args : {std::vector<std::string>{"list", store, "--where", ""},
                                               {"delete", store, "m0", "--where", "id == \"m0\""},
                                               {"delete", store, "--where", "id == \"m0\"", "--ids-from", "-"}}) {
    CAPTURE(args);
    CHECK(Aether(args).exit_code == 64);
  }
  CHECK(DirectoryBytes(store) == bytes);
}
