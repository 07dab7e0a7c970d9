#pragma once

#include <string>

namespace aether {

// Whether s is well-formed UTF-8: no overlong form, no surrogate, nothing
// past U+10FFFF, no sequence cut short.
bool ValidUtf8(const std::string& s);

}  // namespace aether
