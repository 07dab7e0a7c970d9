#pragma once
// A failed system call's errno as a Status, one mapping for every caller:
// no space (ENOSPC, EDQUOT) kNoSpace, no permission (EACCES, EPERM, EROFS)
// kPermissionDenied, a link where none is followed (ELOOP) and the rest
// kIOError; the message is "CONTEXT: strerror(err)".
#include <string>

#include "aether/status.h"

namespace aether {

Status ErrnoStatus(const std::string& context, int err);

// Why `path`, which a command was given, is not there: `missing`, unless a
// directory on the way has no search permission for this user (stat fails
// with EACCES), which is no missing file: then kPermissionDenied saying so.
Status NotThere(const std::string& path, Status missing);

}  // namespace aether
