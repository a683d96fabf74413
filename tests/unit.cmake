# SPDX-License-Identifier: MIT
# Unit tests: one executable per module of exporter/, named test_<module>,
# linked against cie_core and compiled with the project's warnings.
# Run them with: ctest --test-dir BUILD_DIR -R unit_ --output-on-failure

set(CIE_UNIT_MODULES
  api buf config http parse ratelimit render snapshot store timeutil)

foreach(module ${CIE_UNIT_MODULES})
  add_executable(test_${module} ${CMAKE_CURRENT_SOURCE_DIR}/test_${module}.c)
  target_compile_options(test_${module} PRIVATE ${CIE_WARNINGS})
  target_link_libraries(test_${module} PRIVATE cie_core)
endforeach()

# test_parse reads the recorded API responses of tests/fixtures, and
# test_config loads the documented example config.
foreach(module ${CIE_UNIT_MODULES})
  if(module STREQUAL "parse")
    add_test(NAME unit_${module}
             COMMAND test_${module} ${CMAKE_SOURCE_DIR}/tests/fixtures)
  elseif(module STREQUAL "config")
    add_test(NAME unit_${module}
             COMMAND test_${module} ${CMAKE_SOURCE_DIR}/config/example.yml)
  else()
    add_test(NAME unit_${module} COMMAND test_${module})
  endif()
  set_tests_properties(unit_${module} PROPERTIES TIMEOUT 60)
endforeach()
