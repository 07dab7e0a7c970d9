// Filters: the --where expressions of list, export and delete (README
// "Filters"), parsed once and matched against each memory's metadata and
// payload.
//
//   expr       := or
//   or         := and ("or" and)*
//   and        := unary ("and" unary)*
//   unary      := "not" unary | "(" expr ")" | "exists" "(" operand ")"
//               | operand "in" "[" literal ("," literal)* "]"
//               | operand ("==" | "!=" | "<" | "<=" | ">" | ">=") literal
//   operand    := field | "payload" ("." name | "[" integer "]" | "[" string "]")*
//   field      := id | tier | importance | created_ms | last_access_ms | access_count | pinned
//   literal    := a JSON string, number, true, false or null
//
// An operand that is absent (no payload, no such member or element) fails
// every comparison, != and in included; exists() tests just that. == is
// JSON equality (1 == 1.0); the order comparisons hold between two numbers
// or two strings (byte order) and are false otherwise. Not thread-safe to
// parse; a parsed Filter may be matched from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "aether/options.h"
#include "aether/status.h"

namespace aether {

class Filter {
 public:
  // InvalidArgument naming the character where `text` stops making sense.
  static Result<Filter> Parse(const std::string& text);
  // True when the memory passes; its payload_json is parsed when the
  // filter reads the payload (text that does not parse counts as none).
  bool Matches(const MemoryRecord& m) const;
  // Matches, or nullopt when the filter reads the payload and it is not
  // one that ValidPayload accepts: one parse for both questions.
  std::optional<bool> MatchesValid(const MemoryRecord& m) const;
  // Whether Matches reads MemoryRecord::payload_json.
  bool uses_payload() const { return uses_payload_; }

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  bool uses_payload_ = false;
};

}  // namespace aether
