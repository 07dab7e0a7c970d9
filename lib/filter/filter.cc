// Filter: a recursive-descent parser over a small tokenizer, and an
// evaluator over the parsed tree (filter.h has the grammar).
#include "filter/filter.h"

#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <variant>
#include <vector>

#include "aether/jsonl.h"

namespace aether {

using Json = nlohmann::json;

namespace {

enum class Field { kId, kTier, kImportance, kCreated, kLastAccess, kAccessCount, kPinned, kPayload };
enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kExists, kAnd, kOr, kNot };

struct Token {
  enum Kind { kEnd, kName, kString, kNumber, kPunct } kind = kEnd;
  std::string text;  // the name, the punctuation, or the literal as written
  size_t at = 0;     // 1-based byte position (Bad counts characters)
};

// A JSON path step: a member name or an array index.
using Step = std::variant<std::string, size_t>;

}  // namespace

struct Filter::Node {
  Op op = Op::kAnd;
  Field field = Field::kId;
  std::vector<Step> path;                         // field kPayload
  std::vector<Json> values;                       // the literals compared with
  std::vector<std::shared_ptr<const Node>> kids;  // and, or, not
};

namespace {

using Node = Filter::Node;

// `at` is a 1-based byte position; the message counts characters (UTF-8
// sequences), as a reader counts them.
Status Bad(const std::string& text, size_t at, const std::string& what) {
  size_t chars = 0;
  for (size_t i = 0; i < at - 1 && i < text.size(); ++i) chars += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
  return Status::InvalidArgument(fmt::format("filter '{}': at character {}, {}", text, chars + 1, what));
}

Result<std::vector<Token>> Tokenize(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (true) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    Token t;
    t.at = i + 1;
    if (i == s.size()) {
      out.push_back(t);
      return out;
    }
    const char c = s[i];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      t.kind = Token::kName;
      t.text = s.substr(i, j - i);
      i = j;
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
      if (j >= s.size()) return Bad(s, i + 1, "a string that is not closed");
      t.kind = Token::kString;
      t.text = s.substr(i, j + 1 - i);
      i = j + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      size_t j = i + 1;
      // The characters of a JSON number (the parse below judges their
      // order), so `3or` is 3 then or.
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.' || s[j] == 'e' ||
                              s[j] == 'E' || ((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
        ++j;
      t.kind = Token::kNumber;
      t.text = s.substr(i, j - i);
      i = j;
    } else {
      static const char* const kPunct[] = {"==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ",", "."};
      for (const char* p : kPunct)
        if (s.compare(i, std::char_traits<char>::length(p), p) == 0) {
          t.kind = Token::kPunct;
          t.text = p;
          break;
        }
      if (t.kind == Token::kEnd) {
        if (c == '=') return Bad(s, i + 1, "'=' (comparisons are written ==)");
        size_t n = 1;  // the whole UTF-8 sequence, not its first byte
        while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
        return Bad(s, i + 1, fmt::format("unexpected '{}'", s.substr(i, n)));
      }
      i += t.text.size();
    }
    out.push_back(std::move(t));
  }
}

class Parser {
 public:
  Parser(const std::string& text, std::vector<Token> tokens) : text_(text), tokens_(std::move(tokens)) {}

  Result<std::shared_ptr<const Node>> Parse() {
    AETHER_ASSIGN_OR_RETURN(auto root, Or(0));
    if (Peek().kind != Token::kEnd) return Expected("'and', 'or' or the end");
    return root;
  }
  bool uses_payload() const { return uses_payload_; }

 private:
  // Nesting past this is refused: each level recurses.
  static constexpr int kMaxDepth = 100;

  const Token& Peek() const { return tokens_[pos_]; }
  bool IsPunct(const char* p) const { return Peek().kind == Token::kPunct && Peek().text == p; }
  bool IsName(const char* n) const { return Peek().kind == Token::kName && Peek().text == n; }
  Status Expected(const std::string& what) const {
    const Token& t = Peek();
    return Bad(text_, t.at,
               fmt::format("expected {}, found {}", what, t.kind == Token::kEnd ? "the end" : "'" + t.text + "'"));
  }

  static std::shared_ptr<const Node> Join(Op op, std::vector<std::shared_ptr<const Node>> kids) {
    if (kids.size() == 1) return kids[0];
    auto n = std::make_shared<Node>();
    n->op = op;
    n->kids = std::move(kids);
    return n;
  }

  Result<std::shared_ptr<const Node>> Or(int depth) {
    std::vector<std::shared_ptr<const Node>> kids;
    do {
      AETHER_ASSIGN_OR_RETURN(auto k, And(depth));
      kids.push_back(std::move(k));
    } while (IsName("or") && ++pos_);
    return Join(Op::kOr, std::move(kids));
  }

  Result<std::shared_ptr<const Node>> And(int depth) {
    std::vector<std::shared_ptr<const Node>> kids;
    do {
      AETHER_ASSIGN_OR_RETURN(auto k, Unary(depth));
      kids.push_back(std::move(k));
    } while (IsName("and") && ++pos_);
    return Join(Op::kAnd, std::move(kids));
  }

  Result<std::shared_ptr<const Node>> Unary(int depth) {
    if (depth > kMaxDepth) return Bad(text_, Peek().at, fmt::format("nesting deeper than {} levels", kMaxDepth));
    if (IsName("not")) {
      ++pos_;
      auto n = std::make_shared<Node>();
      n->op = Op::kNot;
      AETHER_ASSIGN_OR_RETURN(auto k, Unary(depth + 1));
      n->kids.push_back(std::move(k));
      return std::shared_ptr<const Node>(n);
    }
    if (IsPunct("(")) {
      ++pos_;
      AETHER_ASSIGN_OR_RETURN(auto inner, Or(depth + 1));
      if (!IsPunct(")")) return Expected("')'");
      ++pos_;
      return inner;
    }
    auto n = std::make_shared<Node>();
    if (IsName("exists")) {
      ++pos_;
      if (!IsPunct("(")) return Expected("'(' after exists");
      ++pos_;
      AETHER_RETURN_IF_ERROR(Operand(n.get()));
      if (!IsPunct(")")) return Expected("')'");
      ++pos_;
      n->op = Op::kExists;
      return std::shared_ptr<const Node>(n);
    }
    AETHER_RETURN_IF_ERROR(Operand(n.get()));
    if (IsName("in")) {
      ++pos_;
      n->op = Op::kIn;
      if (!IsPunct("[")) return Expected("'[' after in");
      ++pos_;
      do {
        Json v;
        AETHER_RETURN_IF_ERROR(Literal(&v));
        n->values.push_back(std::move(v));
      } while (IsPunct(",") && ++pos_);
      if (!IsPunct("]")) return Expected("',' or ']'");
      ++pos_;
      return std::shared_ptr<const Node>(n);
    }
    static const std::pair<const char*, Op> kOps[] = {{"==", Op::kEq}, {"!=", Op::kNe}, {"<", Op::kLt},
                                                      {"<=", Op::kLe}, {">", Op::kGt},  {">=", Op::kGe}};
    bool found = false;
    for (const auto& [text, op] : kOps)
      if (IsPunct(text)) {
        n->op = op;
        found = true;
      }
    if (!found) return Expected("a comparison (== != < <= > >=) or in");
    ++pos_;
    Json v;
    AETHER_RETURN_IF_ERROR(Literal(&v));
    n->values.push_back(std::move(v));
    return std::shared_ptr<const Node>(n);
  }

  Status Operand(Node* n) {
    static const std::pair<const char*, Field> kFields[] = {{"id", Field::kId},
                                                            {"tier", Field::kTier},
                                                            {"importance", Field::kImportance},
                                                            {"created_ms", Field::kCreated},
                                                            {"last_access_ms", Field::kLastAccess},
                                                            {"access_count", Field::kAccessCount},
                                                            {"pinned", Field::kPinned},
                                                            {"payload", Field::kPayload}};
    if (Peek().kind == Token::kName)
      for (const auto& [name, field] : kFields)
        if (Peek().text == name) {
          n->field = field;
          ++pos_;
          if (field == Field::kPayload) {
            uses_payload_ = true;
            return Path(n);
          }
          return Status::Ok();
        }
    const std::string fields = "id, tier, importance, created_ms, last_access_ms, access_count, pinned or payload";
    if (Peek().kind == Token::kName)
      return Bad(text_, Peek().at,
                 fmt::format("unknown field '{}' (fields: {}; a payload member is written payload.{})", Peek().text,
                             fields, Peek().text));
    return Expected("a field (" + fields + ")");
  }

  Status Path(Node* n) {
    while (true) {
      if (IsPunct(".")) {
        ++pos_;
        if (Peek().kind != Token::kName) return Expected("a member name after '.'");
        n->path.emplace_back(Peek().text);
        ++pos_;
      } else if (IsPunct("[")) {
        ++pos_;
        Json key;
        const Token& t = Peek();
        AETHER_RETURN_IF_ERROR(Literal(&key));
        if (key.is_string()) {
          n->path.emplace_back(key.get<std::string>());
        } else if (key.is_number_unsigned() || (key.is_number_integer() && key.get<int64_t>() >= 0)) {
          n->path.emplace_back(size_t(key.get<uint64_t>()));
        } else {
          return Bad(text_, t.at, "a path step is a \"member\" or an index >= 0");
        }
        if (!IsPunct("]")) return Expected("']'");
        ++pos_;
      } else {
        return Status::Ok();
      }
    }
  }

  Status Literal(Json* out) {
    const Token& t = Peek();
    if (t.kind == Token::kName && (t.text == "true" || t.text == "false" || t.text == "null")) {
      *out = t.text == "true" ? Json(true) : t.text == "false" ? Json(false) : Json();
    } else if (t.kind == Token::kString || t.kind == Token::kNumber) {
      *out = Json::parse(t.text, nullptr, /*allow_exceptions=*/false);
      if (out->is_discarded() || (t.kind == Token::kNumber) != out->is_number())
        return Bad(text_, t.at,
                   fmt::format("'{}' is not a JSON {}", t.text, t.kind == Token::kNumber ? "number" : "string"));
    } else {
      return Expected("a value (a \"string\", a number, true, false or null)");
    }
    ++pos_;
    return Status::Ok();
  }

  const std::string& text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool uses_payload_ = false;
};

// The operand's value for this memory; nullptr when it is absent.
const Json* Resolve(const Filter::Node& n, const MemoryRecord& m, const Json& payload, Json* scratch) {
  switch (n.field) {
    case Field::kId:
      return &(*scratch = m.id);
    case Field::kTier:
      return &(*scratch = TierName(m.tier));
    case Field::kImportance:
      return &(*scratch = m.importance);
    case Field::kCreated:
      return &(*scratch = m.created_ms);
    case Field::kLastAccess:
      return &(*scratch = m.last_access_ms);
    case Field::kAccessCount:
      return &(*scratch = m.access_count);
    case Field::kPinned:
      return &(*scratch = m.pinned);
    case Field::kPayload:
      break;
  }
  if (payload.is_discarded()) return nullptr;  // none (or text that does not parse)
  const Json* at = &payload;
  for (const Step& step : n.path) {
    if (const auto* key = std::get_if<std::string>(&step)) {
      if (!at->is_object()) return nullptr;
      auto it = at->find(*key);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else {
      const size_t i = std::get<size_t>(step);
      if (!at->is_array() || i >= at->size()) return nullptr;
      at = &(*at)[i];
    }
  }
  return at;
}

// Two JSON numbers, exactly: integers of either signedness by value (2^64 - 1
// is not -1), an integer and a float as long double (64 mantissa bits on
// x86-64: every int64 and uint64 exactly).
int NumberOrder(const Json& a, const Json& b) {
  auto cmp = [](auto x, auto y) { return x < y ? -1 : y < x ? 1 : 0; };
  if (a.is_number_integer() && b.is_number_integer()) {
    const bool ua = a.is_number_unsigned(), ub = b.is_number_unsigned();
    if (ua && ub) return cmp(a.get<uint64_t>(), b.get<uint64_t>());
    if (!ua && !ub) return cmp(a.get<int64_t>(), b.get<int64_t>());
    if (ua) return b.get<int64_t>() < 0 ? 1 : cmp(a.get<uint64_t>(), uint64_t(b.get<int64_t>()));
    return a.get<int64_t>() < 0 ? -1 : cmp(uint64_t(a.get<int64_t>()), b.get<uint64_t>());
  }
  auto wide = [](const Json& x) {
    return x.is_number_unsigned()  ? (long double)x.get<uint64_t>()
           : x.is_number_integer() ? (long double)x.get<int64_t>()
                                   : (long double)x.get<double>();
  };
  return cmp(wide(a), wide(b));
}

// JSON equality, with numbers compared by NumberOrder.
bool Equal(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return NumberOrder(a, b) == 0;
  return a == b;
}

bool Compare(const Json& a, Op op, const Json& b) {
  if (op == Op::kEq) return Equal(a, b);
  if (op == Op::kNe) return !Equal(a, b);
  int order;
  if (a.is_number() && b.is_number()) {
    order = NumberOrder(a, b);
  } else if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    order = c < 0 ? -1 : c > 0 ? 1 : 0;
  } else {
    return false;
  }
  switch (op) {
    case Op::kLt:
      return order < 0;
    case Op::kLe:
      return order <= 0;
    case Op::kGt:
      return order > 0;
    default:
      return order >= 0;
  }
}

bool Eval(const Filter::Node& n, const MemoryRecord& m, const Json& payload) {
  switch (n.op) {
    case Op::kAnd:
      for (const auto& k : n.kids)
        if (!Eval(*k, m, payload)) return false;
      return true;
    case Op::kOr:
      for (const auto& k : n.kids)
        if (Eval(*k, m, payload)) return true;
      return false;
    case Op::kNot:
      return !Eval(*n.kids[0], m, payload);
    default:
      break;
  }
  Json scratch;
  const Json* v = Resolve(n, m, payload, &scratch);
  if (!v) return false;
  if (n.op == Op::kExists) return true;
  if (n.op == Op::kIn) {
    for (const Json& x : n.values)
      if (Equal(*v, x)) return true;
    return false;
  }
  return Compare(*v, n.op, n.values[0]);
}

}  // namespace

Result<Filter> Filter::Parse(const std::string& text) {
  AETHER_ASSIGN_OR_RETURN(auto tokens, Tokenize(text));
  Parser parser(text, std::move(tokens));
  AETHER_ASSIGN_OR_RETURN(auto root, parser.Parse());
  Filter f;
  f.root_ = std::move(root);
  f.uses_payload_ = parser.uses_payload();
  return f;
}

bool Filter::Matches(const MemoryRecord& m) const {
  Json payload(Json::value_t::discarded);  // none
  if (uses_payload_ && !m.payload_json.empty() && CheckJsonDepth(m.payload_json).ok())
    payload = Json::parse(m.payload_json, nullptr, /*allow_exceptions=*/false);
  return Eval(*root_, m, payload);
}

std::optional<bool> Filter::MatchesValid(const MemoryRecord& m) const {
  Json payload(Json::value_t::discarded);  // none
  if (uses_payload_ && !m.payload_json.empty()) {
    if (!CheckJsonDepth(m.payload_json).ok()) return std::nullopt;
    payload = Json::parse(m.payload_json, nullptr, /*allow_exceptions=*/false);
    if (payload.is_discarded()) return std::nullopt;
  }
  return Eval(*root_, m, payload);
}

}  // namespace aether
