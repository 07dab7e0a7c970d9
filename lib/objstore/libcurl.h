#pragma once
// libcurl, loaded (dlopen of libcurl.so.4) the first time a command talks to
// a bucket, not linked: libcurl and the libraries it brings (OpenSSL,
// GnuTLS, Kerberos, LDAP, ...) cost every process about 17 ms of dynamic
// linking on a 2-core VM, seven times what the rest of a one-shot `aether`
// command spends starting, and only publish, pull and S3 cold tiers need it.
// The headers are libcurl's own (the build needs libcurl4-openssl-dev); the
// functions are its exported ones, called through these pointers.

#include <curl/curl.h>

#include "aether/status.h"

namespace aether {

struct Libcurl {
  decltype(&curl_global_init) global_init;
  decltype(&curl_easy_init) easy_init;
  decltype(&curl_easy_cleanup) easy_cleanup;
  decltype(&curl_easy_reset) easy_reset;
  decltype(&curl_easy_setopt) easy_setopt;
  decltype(&curl_easy_getinfo) easy_getinfo;
  decltype(&curl_easy_perform) easy_perform;
  decltype(&curl_easy_strerror) easy_strerror;
  decltype(&curl_slist_append) slist_append;
  decltype(&curl_slist_free_all) slist_free_all;
};

// Loads libcurl once per process and runs curl_global_init; later calls
// return the same table. kFailedPrecondition (exit 69), naming the library and the loader's
// reason, when it cannot be loaded or lacks a function.
Result<const Libcurl*> LoadLibcurl();

}  // namespace aether
