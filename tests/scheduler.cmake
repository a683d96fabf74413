# SPDX-License-Identifier: MIT
# Scheduler and fault-tolerance tests: Python scripts (standard library only)
# that start the fake CircleCI API and the real exporter on 127.0.0.1 and
# check pacing, retries, the schedule and signal handling, mostly from the
# fake API's request log. One CTest test per script, named scheduler_<topic>.
# Run them with: ctest --test-dir BUILD_DIR -R scheduler_ --output-on-failure -j2
find_package(Python3 COMPONENTS Interpreter)

if(NOT Python3_Interpreter_FOUND)
  message(WARNING "Python 3 not found: the scheduler tests are not registered")
  return()
endif()

# Topic and deadline in seconds for the whole script, well above its usual
# run time (1 minute for scale, under 30 s for the others) because every
# wait inside has its own deadline too.
set(CIE_SCHEDULER_TESTS
  retry_after 300
  rate 300
  spread 300
  overload 300
  retries 300
  partial_failure 300
  signals 300
  scale 420)

list(LENGTH CIE_SCHEDULER_TESTS count)
math(EXPR last "${count} - 1")
foreach(i RANGE 0 ${last} 2)
  math(EXPR j "${i} + 1")
  list(GET CIE_SCHEDULER_TESTS ${i} topic)
  list(GET CIE_SCHEDULER_TESTS ${j} deadline)
  add_test(NAME scheduler_${topic}
    COMMAND ${Python3_EXECUTABLE}
            ${CMAKE_CURRENT_SOURCE_DIR}/scheduler/test_${topic}.py
            --build-dir ${CMAKE_BINARY_DIR}
            --source-dir ${CMAKE_SOURCE_DIR})
  set_tests_properties(scheduler_${topic} PROPERTIES
    TIMEOUT ${deadline}
    LABELS scheduler)
endforeach()
