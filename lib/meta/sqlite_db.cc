#include "meta/sqlite_db.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "meta/trace_vfs.h"

namespace aether {

Status SqliteStatus(sqlite3* db, int rc, const std::string& context) {
  std::string msg = context + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  // No memory (SQLite's, or the VFS's: SQLITE_IOERR_NOMEM) is what every
  // other allocation that fails is: exit 70, "out of memory".
  if (rc == SQLITE_NOMEM || rc == SQLITE_IOERR_NOMEM) return Status::Internal(msg);
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::Ok();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy("store busy: " + msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    case SQLITE_CONSTRAINT:
      return Status::Internal(msg);
    case SQLITE_FULL:
      return Status::NoSpace(msg);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Status::PermissionDenied(msg);
    default:
      // An I/O error's cause, as the system gave it (EIO, EFBIG past the
      // file-size limit, ...): SQLite's own message says only "disk I/O error".
      if (const int err = TakeDbIoErrno(); (rc & 0xff) == SQLITE_IOERR && err != 0)
        msg += fmt::format(" ({})", std::strerror(err));
      return Status::IOError(msg);
  }
}

Stmt::Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindBlob(int i, const std::string& bytes) {
  sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Result<bool> Stmt::Step() {
  (void)TakeDbIoErrno();  // a cause SqliteStatus names is this call's own
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = SqliteStatus(db_, rc, sqlite3_sql(stmt_));
  sqlite3_reset(stmt_);
  return s;
}

Status Stmt::Run() {
  for (;;) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!r.value()) break;
  }
  Reset();
  return Status::Ok();
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::Double(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Stmt::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}
std::string_view Stmt::TextView(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string_view();
}
std::string Stmt::Blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}
bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
Stmt::Type Stmt::TypeOf(int col) const {
  switch (sqlite3_column_type(stmt_, col)) {
    case SQLITE_INTEGER:
      return Type::kInteger;
    case SQLITE_FLOAT:
      return Type::kFloat;
    case SQLITE_TEXT:
      return Type::kText;
    case SQLITE_BLOB:
      return Type::kBlob;
    default:
      return Type::kNull;
  }
}

Db::~Db() {
  cache_.clear();
  sqlite3_close_v2(db_);
}

Result<StmtLease> Db::PrepareCached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    AETHER_ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
    it = cache_.emplace(sql, std::make_unique<Stmt>(std::move(st))).first;
  }
  return StmtLease(it->second.get());
}

namespace {

// "file:" URI of a path (RFC 3986: only what the URI syntax needs escaped).
std::string FileUri(const std::string& path, const char* query) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20)
      uri += fmt::format("%{:02X}", c);
    else
      uri += char(c);
  }
  return uri + "?" + query;
}

}  // namespace

std::string SqlitePath(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  char* resolved = realpath(dir.c_str(), nullptr);
  if (!resolved) return path;
  std::string real = resolved;
  free(resolved);
  if (real != "/") real += '/';
  return real + (slash == std::string::npos ? path : path.substr(slash + 1));
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create, bool reader) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | (create ? SQLITE_OPEN_CREATE : 0);
  // Messages name `path` as given.
  const std::string real = SqlitePath(path);
  std::string name = real;
  if (reader && access(real.c_str(), W_OK) != 0) {
    // A store this user may only read. WAL mode needs a writable -shm
    // index; without one, SQLite reads the DB read-only only if the -shm
    // and -wal files exist. When there is no WAL content the DB file is
    // the whole committed state, and nobody writes it while we hold the
    // shared store lock (writers hold it exclusively), so it is opened as
    // immutable: no -shm, no locks, nothing written.
    struct stat wal;
    const bool has_wal = stat((real + "-wal").c_str(), &wal) == 0 && wal.st_size > 0;
    flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_URI;
    name = FileUri(real, has_wal ? "mode=ro" : "immutable=1");
  }
  (void)TakeDbIoErrno();  // a cause SqliteStatus names is this call's own
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, TraceVfsName());
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(raw, rc, path + ": open");
    sqlite3_close_v2(raw);
    return s;
  }
  std::unique_ptr<Db> db(new Db(raw, path));
  // No connection checkpoints when it closes: a reader must not (SQLite
  // 3.40's WAL-reset bug needs a checkpoint racing a writer), and a writer
  // leaves the WAL for the next one unless it has grown
  // (CheckpointOnClose): a checkpoint costs two syncs, which a one-memory
  // write would otherwise pay every time.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_extended_result_codes(raw, 1);
  AETHER_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  if (!reader) AETHER_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  // A writer's page cache: 64 MiB, not SQLite's 2 MiB. A bulk ingest
  // touches index pages all over the id index; with 2 MiB each batch read
  // most of them back from the file (1M vectors: 22% faster).
  if (!reader) AETHER_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-65536"));
  AETHER_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  return db;
}

Status Db::SetFullSync(bool full) {
  if (rehearsing_) return Status::Ok();  // nothing commits
  AETHER_RETURN_IF_ERROR(Exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  full_sync_ = full;
  return Status::Ok();
}

void Db::CheckpointOnClose() { sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr); }

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  (void)TakeDbIoErrno();  // a cause SqliteStatus names is this call's own
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, path_ + ": " + sql.substr(0, 60));
  return Status::Ok();
}

Result<Stmt> Db::Prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  (void)TakeDbIoErrno();  // a cause SqliteStatus names is this call's own
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, path_ + ": prepare " + sql.substr(0, 60));
  return Stmt(db_, stmt);
}

Result<int64_t> Db::QueryInt(const std::string& sql) {
  AETHER_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  AETHER_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

Result<std::vector<int64_t>> Db::QueryInts(const std::string& sql) {
  AETHER_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  std::vector<int64_t> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(stmt.Int(0));
  }
}

Status Db::BeginRehearsal() {
  if (rehearsing_ || !sqlite3_get_autocommit(db_))
    return Status::Internal(path_ + ": a rehearsal inside a transaction");
  AETHER_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  rehearsing_ = true;
  return Status::Ok();
}

Status Db::EndRehearsal() {
  if (!rehearsing_) return Status::Ok();
  rehearsing_ = false;
  if (sqlite3_get_autocommit(db_))
    return Status::Internal(path_ + ": the rehearsal's transaction was rolled back before its end");
  (void)TakeDbIoErrno();  // a cause SqliteStatus names is this call's own
  const int rc = sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, path_ + ": ROLLBACK");
  return Status::Ok();
}

bool Db::in_transaction() const { return !sqlite3_get_autocommit(db_); }

void Db::Rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

int64_t Db::TotalChanges() const { return sqlite3_total_changes64(db_); }

Result<std::pair<int64_t, int64_t>> Db::ContentVersion() {
  AETHER_ASSIGN_OR_RETURN(int64_t others, QueryInt("PRAGMA data_version"));
  return std::make_pair(int64_t(sqlite3_total_changes64(db_)), others);
}

}  // namespace aether
