# SPDX-License-Identifier: MIT
# Hardening tests: hostile HTTP clients, TLS and basic auth, secret
# handling, and the replay of the fuzz targets' saved inputs. With
# -DCIE_FUZZ=ON (clang) the libFuzzer targets of tests/fuzz are built too;
# tests/fuzz/run-smoke does that in its own build directory.
# The sanitizer and valgrind runs are scripts (tests/hardening/run-*),
# called from scripts/test, because each builds or runs a whole suite.

set(CIE_FUZZ_TARGETS
  parse_summary parse_runs parse_project config render timeutil
  percent_encode http_negotiation parse_insights)

# One program replays the corpus and regression inputs of every target.
set(fuzz_sources ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/regress.c)
foreach(target ${CIE_FUZZ_TARGETS})
  list(APPEND fuzz_sources ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${target}.c)
endforeach()
add_executable(fuzz-regressions ${fuzz_sources})
target_compile_definitions(fuzz-regressions PRIVATE CIE_FUZZ_REGRESS)
target_include_directories(fuzz-regressions PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
target_compile_options(fuzz-regressions PRIVATE ${CIE_WARNINGS})
target_link_libraries(fuzz-regressions PRIVATE cie_core)
add_test(NAME hardening_fuzz_regressions
  COMMAND fuzz-regressions ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set_tests_properties(hardening_fuzz_regressions PROPERTIES
  TIMEOUT 300 LABELS hardening)

# The basic-auth checker on its own: bcrypt, the cache, the parallel limit.
add_executable(test_auth ${CMAKE_CURRENT_SOURCE_DIR}/hardening/test_auth.c)
target_compile_options(test_auth PRIVATE ${CIE_WARNINGS})
target_link_libraries(test_auth PRIVATE cie_core)
add_test(NAME hardening_auth COMMAND test_auth)
set_tests_properties(hardening_auth PROPERTIES TIMEOUT 300 LABELS hardening)

if(CIE_FUZZ)
  foreach(target ${CIE_FUZZ_TARGETS})
    add_executable(fuzz_${target} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${target}.c)
    target_include_directories(fuzz_${target} PRIVATE
      ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
    target_link_libraries(fuzz_${target} PRIVATE cie_core)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    set_target_properties(fuzz_${target} PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  endforeach()
endif()

find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(WARNING "Python 3 not found: the hardening tests are not registered")
  return()
endif()

foreach(topic hostile_clients malformed_requests tls_auth secrets api_limits)
  add_test(NAME hardening_${topic}
    COMMAND ${Python3_EXECUTABLE}
            ${CMAKE_CURRENT_SOURCE_DIR}/hardening/test_${topic}.py
            --build-dir ${CMAKE_BINARY_DIR}
            --source-dir ${CMAKE_SOURCE_DIR})
  # A deadline for the whole script on top of the deadline of each wait.
  set_tests_properties(hardening_${topic} PROPERTIES
    TIMEOUT 600 LABELS hardening)
endforeach()
