// A narrow RAII wrapper over the SQLite C API: one connection (Db) and its
// prepared statements (Stmt). Errors become Status with the SQL's context;
// SQLITE_BUSY/LOCKED become Code::kBusy, SQLITE_CORRUPT/NOTADB kCorruption.
// Not thread-safe: one Db per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aether/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace aether {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Binds are 1-based, like SQLite's.
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, const std::string& v);
  Stmt& BindBlob(int i, const std::string& bytes);
  // Steps once: true with a row available, false when done.
  Result<bool> Step();
  // Steps to completion, discarding rows, then resets.
  Status Run();
  void Reset();

  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  // The same bytes in SQLite's buffer: valid until the next step, reset or
  // conversion of this column.
  std::string_view TextView(int col) const;
  // A BLOB value's bytes (any other value's as SQLite converts it).
  std::string Blob(int col) const;
  bool IsNull(int col) const;
  // The stored type of a column's value (SQLite types values, not columns:
  // a damaged row can hold text where an integer belongs).
  enum class Type { kInteger, kFloat, kText, kBlob, kNull };
  Type TypeOf(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// A cached statement lent out by Db::PrepareCached; reset (which ends its
// implicit read transaction) when the lease ends.
class StmtLease {
 public:
  explicit StmtLease(Stmt* stmt) : stmt_(stmt) {}
  StmtLease(StmtLease&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }
  StmtLease(const StmtLease&) = delete;
  StmtLease& operator=(const StmtLease&) = delete;
  ~StmtLease() {
    if (stmt_) stmt_->Reset();
  }
  Stmt* operator->() const { return stmt_; }
  Stmt& operator*() const { return *stmt_; }

 private:
  Stmt* stmt_;
};

class Db {
 public:
  ~Db();
  // Opens (or with create, creates) the database file and applies aether's
  // connection settings: WAL, synchronous=FULL, foreign keys, busy timeout.
  // No connection checkpoints on close unless told to (format-spec/README.md).
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool create, bool reader);
  // Closing this connection checkpoints the WAL into the DB and removes it
  // (SQLite's default; only for the holder of the exclusive store lock).
  void CheckpointOnClose();
  // synchronous=FULL (every commit syncs the WAL) or NORMAL (no sync at
  // commit); InTransaction makes sure of FULL (InUnsyncedTransaction).
  Status SetFullSync(bool full);
  bool full_sync() const { return full_sync_; }
  // A rehearsal (maintain --dry-run): everything until EndRehearsal runs in
  // one transaction, rolled back at its end; the transactions begun inside
  // it (RunBetween) are savepoints, and nothing commits or syncs.
  Status BeginRehearsal();
  // Rolls it back; an error if it was gone already (SQLite rolls a
  // transaction back itself on some errors).
  Status EndRehearsal();
  bool rehearsing() const { return rehearsing_; }
  bool in_transaction() const;

  Status Exec(const std::string& sql);
  Result<Stmt> Prepare(const std::string& sql);
  // A statement prepared once per connection and reused: for the point
  // lookups run per record (parsing the SQL was most of their cost). One
  // lease per statement text at a time.
  Result<StmtLease> PrepareCached(const std::string& sql);
  // Runs a query expected to return one integer (0 when no row).
  Result<int64_t> QueryInt(const std::string& sql);
  // Runs a query returning one integer column; all its values in order.
  Result<std::vector<int64_t>> QueryInts(const std::string& sql);
  Status Commit() { return Exec("COMMIT"); }
  // Called after each transaction RunBetween commits that changed a row
  // other than bookkeeping's (not a rehearsal's); none until set. It must
  // not throw, nor use the store (it runs between a commit and its cleanup).
  void OnChangeCommitted(std::function<void()> fn) { on_change_committed_ = std::move(fn); }
  void ChangeCommitted() const {
    if (on_change_committed_) on_change_committed_();
  }
  int64_t TotalChanges() const;  // rows this connection changed (sqlite3_total_changes64)
  // Of those, the bookkeeping's (below).
  int64_t bookkeeping_changes() const { return bookkeeping_changes_; }
  bool in_bookkeeping() const { return bookkeeping_depth_ > 0; }

  // While one lives, the rows this connection changes are the store's
  // bookkeeping, not its content: the journal's own rows (a migration's
  // intent), folded logs, reserved row ids, a replay of another process's
  // work, a restore's retry after a failure. A commit of only those is no
  // change (OnChangeCommitted). Scopes nest: the outermost counts.
  class Bookkeeping {
   public:
    explicit Bookkeeping(Db* db) : db_(db), before_(db->TotalChanges()) { ++db_->bookkeeping_depth_; }
    ~Bookkeeping() {
      if (--db_->bookkeeping_depth_ == 0) db_->bookkeeping_changes_ += db_->TotalChanges() - before_;
    }
    Bookkeeping(const Bookkeeping&) = delete;
    Bookkeeping& operator=(const Bookkeeping&) = delete;

   private:
    Db* db_;
    int64_t before_;
  };
  void Rollback();  // best effort, for error paths
  int64_t LastInsertRowId() const;
  int Changes() const;
  // The database's content as this connection sees it, by version: its own
  // changes (sqlite3_total_changes64) and other connections' commits
  // (PRAGMA data_version). While both stay the same, so does the content.
  Result<std::pair<int64_t, int64_t>> ContentVersion();
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  bool full_sync_ = true;
  bool rehearsing_ = false;
  std::function<void()> on_change_committed_;
  int64_t bookkeeping_changes_ = 0;
  int bookkeeping_depth_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;  // finalized before the close
};

// Converts an SQLite result code into a Status ("meta.db: <context>: <msg>").
Status SqliteStatus(sqlite3* db, int rc, const std::string& context);

// `path` with its directory's links resolved (realpath; the last name kept,
// never followed), for SQLite: its NOFOLLOW refuses a link anywhere on a
// path, where aether's own opens refuse one only at the end (O_NOFOLLOW).
// So a store under a linked directory (/home -> /data/home), or named by a
// link to its directory, opens; a meta.db that is a link still does not.
// `path` unchanged when its directory cannot be resolved.
std::string SqlitePath(const std::string& path);

// Runs fn between `begin` and COMMIT, rolling back if either fails; in a
// rehearsal, between a savepoint and its release.
template <typename Fn>
Status RunBetween(Db* db, const char* begin, Fn&& fn) {
  if (db->rehearsing()) {
    // Never outside the rehearsal's transaction: a savepoint there would
    // begin (and its release commit) a transaction of its own.
    if (!db->in_transaction())
      return Status::Internal(db->path() + ": the rehearsal's transaction was rolled back (an earlier error)");
    AETHER_RETURN_IF_ERROR(db->Exec("SAVEPOINT step"));
    Status s = fn();
    if (s.ok()) return db->Exec("RELEASE step");
    (void)db->Exec("ROLLBACK TO step");
    (void)db->Exec("RELEASE step");
    return s;
  }
  const int64_t changes = db->TotalChanges(), bookkeeping = db->bookkeeping_changes();
  AETHER_RETURN_IF_ERROR(db->Exec(begin));
  Status s = fn();
  if (!s.ok()) {
    db->Rollback();
    return s;
  }
  s = db->Commit();
  if (!s.ok()) {
    db->Rollback();
    // SQLite writes the commit's last frame, then syncs the WAL: an I/O
    // error there may come after the frame was written, and a later open
    // finds it committed. (No room, SQLITE_FULL, fails before it; a
    // transaction that changed nothing has nothing to have reached.)
    if (s.code() == Code::kIOError && db->TotalChanges() != changes)
      s = s.WithMessage(s.message() + " (a failed commit's change may still have reached the disk; " +
                        "the next command shows whether it did)");
    return s;
  }
  // (Inside a bookkeeping scope, all of it is; an enclosing scope counts
  // its rows only when it ends.)
  if (!db->in_bookkeeping() && db->TotalChanges() - changes > db->bookkeeping_changes() - bookkeeping)
    db->ChangeCommitted();
  return s;
}

// Runs fn inside BEGIN IMMEDIATE ... COMMIT, rolling back if it fails. The
// commit syncs the WAL (synchronous=FULL, set again if an unsynced
// transaction could not restore it).
template <typename Fn>
Status InTransaction(Db* db, Fn&& fn) {
  if (!db->full_sync()) AETHER_RETURN_IF_ERROR(db->SetFullSync(true));
  return RunBetween(db, "BEGIN IMMEDIATE", std::forward<Fn>(fn));
}

// Like InTransaction, but its commit does not sync the WAL
// (synchronous=NORMAL for this one transaction): the change is durable
// with the next synced commit or checkpoint, and a power loss before then
// undoes it (never a later synced change without it: WAL frames are
// chained by checksum). Only for changes whose loss the store repairs or
// may lose (format-spec/README.md, "SQLite").
template <typename Fn>
Status InUnsyncedTransaction(Db* db, Fn&& fn) {
  AETHER_RETURN_IF_ERROR(db->SetFullSync(false));
  Status s = RunBetween(db, "BEGIN IMMEDIATE", std::forward<Fn>(fn));
  // Every later commit syncs again; should this fail, the next
  // InTransaction tries again before it begins, and fails if it cannot.
  Status full = db->SetFullSync(true);
  return s.ok() ? full : s;
}

// Runs fn inside BEGIN (deferred) ... COMMIT: one snapshot and one shared
// lock for a run of point lookups, each of which would otherwise take and
// drop the lock (fcntl calls) on its own. Not for nesting in a transaction.
template <typename Fn>
Status InReadTransaction(Db* db, Fn&& fn) {
  return RunBetween(db, "BEGIN", std::forward<Fn>(fn));
}

}  // namespace aether
