# SPDX-License-Identifier: MIT
# Organization tests: Python scripts (standard library only, sharing
# tests/integration/harness.py) that start the fake CircleCI API and the
# real exporter on 127.0.0.1: organization summaries and discovery, flaky
# tests, trends and test metrics, branch globs, sharding and series limits.
# One CTest test per script, named org_<topic>.
find_package(Python3 COMPONENTS Interpreter)

if(NOT Python3_Interpreter_FOUND)
  message(WARNING "Python 3 not found: the organization tests are not registered")
  return()
endif()

foreach(topic discovery optional branch_globs sharding series_limits)
  add_test(NAME org_${topic}
    COMMAND ${Python3_EXECUTABLE}
            ${CMAKE_CURRENT_SOURCE_DIR}/org/test_${topic}.py
            --build-dir ${CMAKE_BINARY_DIR}
            --source-dir ${CMAKE_SOURCE_DIR})
  set_tests_properties(org_${topic} PROPERTIES
    TIMEOUT 900
    LABELS org)
endforeach()
