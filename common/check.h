// TEMPA_CHECK: crash on a broken internal invariant (never on bad input). Abseil 20220623 has no
// absl/log, so this is the one place that aborts.
#pragma once

#include <cstdio>
#include <cstdlib>

#define TEMPA_CHECK(cond, msg)                                                        \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #cond, \
                   (msg));                                                           \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)
