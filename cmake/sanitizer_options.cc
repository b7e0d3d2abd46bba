// Default sanitizer options, compiled into every test binary of a TEMPA_SANITIZE build (see
// cmake/Sanitizers.cmake), so `ctest --test-dir build-asan` and a test run by hand behave the
// same. ASAN_OPTIONS / UBSAN_OPTIONS in the environment still override them.
//
// Stop at the first error with a full stack: a report buried in later output is easy to miss.
// Leaks are checked at exit (LSan). Container-overflow checks need annotated containers, which
// Debian's libstdc++ does not enable, and the uninstrumented Debian libraries (gRPC, protobuf,
// abseil) register no globals, so neither check needs turning off.
extern "C" const char* __asan_default_options() {
  return "halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1";
}

extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

// Leaks that are not ours: libgit2 1.5 (Debian builds its regexes on PCRE2) leaves PCRE2 match
// data of the threads it ran on unfreed.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpcre2-8.so\n"; }
