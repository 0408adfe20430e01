// PYDEPOT_CHECK(cond): an invariant that must hold whatever the input; always on. On failure it
// prints the condition and location to stderr and aborts. Untrusted input gets a Status instead.
#pragma once

#include <cstdio>
#include <cstdlib>

#define PYDEPOT_CHECK(cond)                                                         \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)
