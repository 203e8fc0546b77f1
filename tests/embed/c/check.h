/* The check macro of the C test programs: CHECK(cond, printf-format, ...) counts a failure and
 * prints where and why; main returns `failures != 0`. One translation unit per program. */
#ifndef PHYSML_TESTS_EMBED_C_CHECK_H
#define PHYSML_TESTS_EMBED_C_CHECK_H

#include <stdio.h>

static int failures = 0;

#define CHECK(cond, ...)                                                \
  do {                                                                  \
    if (!(cond)) {                                                      \
      ++failures;                                                       \
      fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                     \
      fprintf(stderr, "\n");                                            \
    }                                                                   \
  } while (0)

#endif
