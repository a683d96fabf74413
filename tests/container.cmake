# SPDX-License-Identifier: MIT
# Container tests: build docker/Dockerfile with podman and run the image
# (container_image), and bring up docker/compose.yml with docker-compose
# through podman's Docker API (container_compose). Both need root, podman,
# runc, debootstrap (and docker-compose), which scripts/install-deps --test
# installs. Without them, or when podman cannot start a container here, the
# scripts print "SKIP: <reason>" and CTest reports the test as skipped.
#
# Each test keeps its podman storage in BUILD_DIR/container/<name> and
# removes it at the end; the Debian base image tarball stays cached in
# BUILD_DIR/container/cache. They take one to three minutes each and do not
# run at the same time as each other (RESOURCE_LOCK), because both build
# images with compilers on a machine of two cores.
find_program(BASH_EXECUTABLE bash REQUIRED)

add_test(NAME container_image
  COMMAND ${BASH_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/container/image.sh
          ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}
          $<TARGET_FILE:fake-circleci-api>)
add_test(NAME container_compose
  COMMAND ${BASH_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/container/compose.sh
          ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(container_image container_compose PROPERTIES
  SKIP_RETURN_CODE 77
  RESOURCE_LOCK podman
  LABELS container)
set_tests_properties(container_image PROPERTIES TIMEOUT 600)
set_tests_properties(container_compose PROPERTIES TIMEOUT 900)
