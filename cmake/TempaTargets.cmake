# Helpers so every component library gets the same warnings and include root.
set(TEMPA_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)

# tempa_library(NAME SRCS a.cc b.cc DEPS x y)
function(tempa_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${TEMPA_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# tempa_test(NAME SRCS a_test.cc DEPS x y [LABELS integration]) — a gtest binary registered with ctest.
function(tempa_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${TEMPA_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  if(TEMPA_SANITIZE)
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/cmake/sanitizer_options.cc)
  endif()
  # Paths tests need, both compiled in and (for scripts the tests run) in the environment.
  target_compile_definitions(${name} PRIVATE TEMPA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TEMPA_BINARY_DIR="${PROJECT_BINARY_DIR}")
  # gtest_discover_tests cannot pass a list-valued ENVIRONMENT: one variable goes there.
  set(props ENVIRONMENT "TEMPA_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()
