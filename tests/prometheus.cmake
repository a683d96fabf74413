# SPDX-License-Identifier: MIT
# Alerting and recording rules, checked and unit-tested by promtool, and a
# real Prometheus scraping the exporter to evaluate every dashboard query.
find_program(PROMTOOL promtool)
find_program(PROMETHEUS prometheus)
find_package(Python3 COMPONENTS Interpreter)

if(PROMTOOL)
  add_test(NAME rules_check
    COMMAND ${PROMTOOL} check rules ${CMAKE_SOURCE_DIR}/dashboards/alerts.yml)
  add_test(NAME rules_unit
    COMMAND ${PROMTOOL} test rules ${CMAKE_SOURCE_DIR}/dashboards/alerts_test.yml)
  set_tests_properties(rules_check rules_unit PROPERTIES TIMEOUT 120)
else()
  add_test(NAME rules_check COMMAND sh -c
    "echo 'promtool not found: install the Debian package prometheus (scripts/install-deps --test)'; exit 1")
endif()

if(PROMETHEUS AND Python3_FOUND)
  add_test(NAME prometheus_dashboard
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/test_prometheus.py
      --exporter $<TARGET_FILE:circleci-insights-exporter>
      --fake-api $<TARGET_FILE:fake-circleci-api>
      --prometheus ${PROMETHEUS}
      --fixtures ${CMAKE_SOURCE_DIR}/tests/fixtures/demo
      --config-template ${CMAKE_SOURCE_DIR}/config/demo.yml
      --rules ${CMAKE_SOURCE_DIR}/dashboards/alerts.yml
      --dashboard ${CMAKE_SOURCE_DIR}/dashboards/circleci-insights.json)
  set_tests_properties(prometheus_dashboard PROPERTIES TIMEOUT 180)
else()
  add_test(NAME prometheus_dashboard COMMAND sh -c
    "echo 'prometheus or python3 not found: install them (scripts/install-deps --test)'; exit 1")
endif()
