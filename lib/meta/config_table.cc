#include "meta/config_table.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

namespace aether {

Result<std::optional<std::string>> ConfigTable::Get(const std::string& key) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT value FROM config WHERE key = ?"));
  st->Bind(1, key);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(st->Text(0));
}

Result<std::string> ConfigTable::Require(const std::string& key) {
  AETHER_ASSIGN_OR_RETURN(auto v, Get(key));
  if (!v) return Status::Corruption(db_->path() + ": config key '" + key + "' is missing");
  return *v;
}

Result<double> ConfigTable::Number(const std::string& key, double fallback) {
  AETHER_ASSIGN_OR_RETURN(auto v, Get(key));
  if (!v) return fallback;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0')
    return Status::Corruption(fmt::format("{}: config '{}' = '{}' is not a number", db_->path(), key, *v));
  return d;
}

Result<int64_t> ConfigTable::Integer(const std::string& key, int64_t fallback) {
  AETHER_ASSIGN_OR_RETURN(auto v, Get(key));
  if (!v) return fallback;
  int64_t n = 0;
  auto r = std::from_chars(v->data(), v->data() + v->size(), n);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size())
    return Status::Corruption(fmt::format("{}: config '{}' = '{}' is not a whole number", db_->path(), key, *v));
  return n;
}

Status ConfigTable::Remove(const std::string& key) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM config WHERE key = ?"));
  st.Bind(1, key);
  return st.Run();
}

Status ConfigTable::Set(const std::string& key, const std::string& value) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("INSERT INTO config(key, value) VALUES(?, ?) "
                                                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  st->Bind(1, key).Bind(2, value);
  return st->Run();
}

}  // namespace aether
