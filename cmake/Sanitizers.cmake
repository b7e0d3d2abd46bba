# Optional sanitizer and fuzzer build, for a second build directory (scripts/test: build-asan).
#
#   cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
#     -DTEMPA_SANITIZE=address,undefined -DTEMPA_FUZZ=ON
#
# TEMPA_SANITIZE instruments every target (ours, the generated protos, the tests) with the named
# sanitizers; UBSan findings abort instead of printing and going on. TEMPA_FUZZ (clang only)
# adds libFuzzer coverage instrumentation to everything and builds tests/fuzz/. The default build
# (both unset) is untouched.
set(TEMPA_SANITIZE "" CACHE STRING
  "Comma-separated -fsanitize= list for every target (e.g. address,undefined); empty for none")
option(TEMPA_FUZZ "Build the libFuzzer targets in tests/fuzz (clang; use with TEMPA_SANITIZE)" OFF)

if(TEMPA_SANITIZE)
  # -O1 keeps stack traces honest and the instrumented build quick; it follows -O2 so it wins.
  set(TEMPA_SANITIZE_FLAGS -fsanitize=${TEMPA_SANITIZE} -fno-omit-frame-pointer -O1)
  if(TEMPA_SANITIZE MATCHES "undefined")
    list(APPEND TEMPA_SANITIZE_FLAGS -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${TEMPA_SANITIZE_FLAGS})
  add_link_options(-fsanitize=${TEMPA_SANITIZE})
  message(STATUS "tempa: sanitizers ${TEMPA_SANITIZE}")
endif()

if(TEMPA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TEMPA_FUZZ needs clang (libFuzzer): configure with "
      "-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  # Coverage feedback from the libraries the fuzzers drive; only the fuzzer binaries link
  # libFuzzer's main (tempa_fuzzer in tests/fuzz/CMakeLists.txt).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
