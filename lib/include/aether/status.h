// Status and Result<T>: how every aether function reports failure.
//
// No exceptions cross the library boundary. A Status carries a typed code and
// a message whose context is prepended by each layer it passes through
// ("cold/staging.shard: frame at offset 81920: checksum mismatch"). Value type,
// thread-compatible.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace aether {

enum class Code {
  kOk = 0,
  kNotFound,            // a named thing (id, store) does not exist
  kInvalidArgument,     // the caller's request is malformed (usage error)
  kBadInput,            // input data is malformed (file:line: reason)
  kBusy,                // the store is locked by another process
  kCorruption,          // stored data fails a checksum or an invariant
  kIOError,             // the OS refused a read, write, sync, rename, ...
  kNotSupported,        // e.g. a store written by a newer format version
  kAlreadyExists,       // e.g. init on a non-empty directory
  kFailedPrecondition,  // the store's state forbids it now (e.g. hot tier full)
  kPermissionDenied,    // the OS refused for lack of permission (EACCES, EPERM, EROFS)
  kInternal,            // a bug
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status BadInput(std::string m) { return Status(Code::kBadInput, std::move(m)); }
  static Status Busy(std::string m) { return Status(Code::kBusy, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  // An I/O error because the disk (or quota) is full: ENOSPC, EDQUOT, SQLITE_FULL.
  static Status NoSpace(std::string m) {
    Status s(Code::kIOError, std::move(m));
    s.no_space_ = true;
    return s;
  }
  static Status NotSupported(std::string m) { return Status(Code::kNotSupported, std::move(m)); }
  static Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
  static Status FailedPrecondition(std::string m) { return Status(Code::kFailedPrecondition, std::move(m)); }
  static Status PermissionDenied(std::string m) { return Status(Code::kPermissionDenied, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNoSpace() const { return no_space_; }
  const std::string& message() const { return message_; }
  // Returns a copy whose message is "context: message".
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    Status s(code_, context + ": " + message_);
    s.no_space_ = no_space_;
    return s;
  }
  // Returns a copy (same code) whose message is `message`.
  Status WithMessage(std::string message) const {
    if (ok()) return *this;
    Status s(code_, std::move(message));
    s.no_space_ = no_space_;
    return s;
  }
  std::string ToString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
  bool no_space_ = false;
};

// A value or the Status explaining its absence.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // The value; calling these on an error is a bug, caught by the assert
  // (check ok() or use AETHER_ASSIGN_OR_RETURN).
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace aether

#define AETHER_CONCAT_INNER(a, b) a##b
#define AETHER_CONCAT(a, b) AETHER_CONCAT_INNER(a, b)
// Propagates a non-ok Status to the caller.
#define AETHER_RETURN_IF_ERROR(expr)                                               \
  do {                                                                             \
    ::aether::Status AETHER_CONCAT(_st_, __LINE__) = (expr);                       \
    if (!AETHER_CONCAT(_st_, __LINE__).ok()) return AETHER_CONCAT(_st_, __LINE__); \
  } while (0)

// Declares `lhs` from a Result<T> expression or returns its Status.
#define AETHER_ASSIGN_OR_RETURN(lhs, expr)                                                  \
  auto AETHER_CONCAT(_res_, __LINE__) = (expr);                                             \
  if (!AETHER_CONCAT(_res_, __LINE__).ok()) return AETHER_CONCAT(_res_, __LINE__).status(); \
  lhs = std::move(AETHER_CONCAT(_res_, __LINE__)).value()
