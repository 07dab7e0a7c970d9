#include "objstore/xml.h"

#include <cstdlib>

namespace aether {
namespace {

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += char(cp);
  } else if (cp < 0x800) {
    *out += char(0xC0 | (cp >> 6)), *out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += char(0xE0 | (cp >> 12)), *out += char(0x80 | ((cp >> 6) & 0x3F)), *out += char(0x80 | (cp & 0x3F));
  } else {
    *out += char(0xF0 | (cp >> 18)), *out += char(0x80 | ((cp >> 12) & 0x3F));
    *out += char(0x80 | ((cp >> 6) & 0x3F)), *out += char(0x80 | (cp & 0x3F));
  }
}

// Where the inner text of the next <tag> (exactly that name, possibly with
// attributes) starts and ends, from `from`; false if there is none.
bool Find(const std::string& xml, const std::string& tag, size_t from, size_t* begin, size_t* end) {
  const std::string open = "<" + tag, close = "</" + tag + ">";
  for (size_t at = xml.find(open, from); at != std::string::npos; at = xml.find(open, at + 1)) {
    const size_t after = at + open.size();
    if (after >= xml.size()) return false;
    const char c = xml[after];
    if (c != '>' && c != ' ' && c != '/') continue;  // <KeyCount> is not <Key>
    const size_t gt = xml.find('>', after);
    if (gt == std::string::npos) return false;
    if (xml[gt - 1] == '/') {  // <Tag/>: empty
      *begin = *end = gt + 1;
      return true;
    }
    const size_t stop = xml.find(close, gt + 1);
    if (stop == std::string::npos) return false;
    *begin = gt + 1;
    *end = stop;
    return true;
  }
  return false;
}

}  // namespace

std::string XmlFirst(const std::string& xml, const std::string& tag) {
  size_t b = 0, e = 0;
  std::string out;
  if (!Find(xml, tag, 0, &b, &e) || !XmlUnescape(xml.substr(b, e - b), &out)) return "";
  return out;
}

std::vector<std::string> XmlBlocks(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  size_t b = 0, e = 0;
  for (size_t from = 0; Find(xml, tag, from, &b, &e); from = e) out.push_back(xml.substr(b, e - b));
  return out;
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool XmlUnescape(const std::string& text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      *out += text[i];
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == std::string::npos) return false;
    const std::string name = text.substr(i + 1, semi - i - 1);
    if (name == "amp")
      *out += '&';
    else if (name == "lt")
      *out += '<';
    else if (name == "gt")
      *out += '>';
    else if (name == "quot")
      *out += '"';
    else if (name == "apos")
      *out += '\'';
    else if (name.size() > 1 && name[0] == '#') {
      const bool hex = name[1] == 'x' || name[1] == 'X';
      const std::string digits = name.substr(hex ? 2 : 1);
      if (digits.empty() || digits.size() > 8) return false;
      char* end = nullptr;
      const unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (*end != '\0' || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
      AppendUtf8(uint32_t(cp), out);
    } else {
      return false;
    }
    i = semi;
  }
  return true;
}

}  // namespace aether
