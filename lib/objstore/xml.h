#pragma once
// Just enough XML for S3's answers (ListObjectsV2, multipart uploads,
// errors): the text of named elements, entities decoded. The answers have
// a fixed shape and no nesting of an element in itself, so no general
// parser is needed; a malformed answer yields empty text, which the callers
// treat as a bad answer.

#include <string>
#include <vector>

namespace aether {

// The decoded text of the first <tag>...</tag> in xml ("" if none).
std::string XmlFirst(const std::string& xml, const std::string& tag);
// The raw inner XML of every <tag>...</tag>, in order.
std::vector<std::string> XmlBlocks(const std::string& xml, const std::string& tag);
// Text with & < > " ' written as entities.
std::string XmlEscape(const std::string& text);
// Text with the five named entities and numeric ones (&#N; &#xH;) decoded;
// false for an unknown or unterminated entity.
bool XmlUnescape(const std::string& text, std::string* out);

}  // namespace aether
