#pragma once
// A failed system call's errno as a Status, one mapping for every caller:
// no space (ENOSPC, EDQUOT) kNoSpace, no permission (EACCES, EPERM, EROFS)
// kPermissionDenied, a link where none is followed (ELOOP) and the rest
// kIOError; the message is "CONTEXT: strerror(err)".
#include <string>

#include "aether/status.h"

namespace aether {

Status ErrnoStatus(const std::string& context, int err);

}  // namespace aether
