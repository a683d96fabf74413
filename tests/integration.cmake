# SPDX-License-Identifier: MIT
# Integration tests: Python scripts (standard library only) that start the
# fake CircleCI API and the real exporter on 127.0.0.1 and check what the
# exporter serves. One CTest test per script, named integration_<topic>.
find_package(Python3 COMPONENTS Interpreter)

if(NOT Python3_Interpreter_FOUND)
  message(WARNING "Python 3 not found: the integration tests are not registered")
  return()
endif()

foreach(topic exact_values once_check_config faults stale_series http token)
  add_test(NAME integration_${topic}
    COMMAND ${Python3_EXECUTABLE}
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_${topic}.py
            --build-dir ${CMAKE_BINARY_DIR}
            --source-dir ${CMAKE_SOURCE_DIR})
  # A deadline for the whole script on top of the deadline of each wait.
  set_tests_properties(integration_${topic} PROPERTIES
    TIMEOUT 900
    LABELS integration)
endforeach()
