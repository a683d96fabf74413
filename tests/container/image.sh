#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds docker/Dockerfile with podman and runs the image against the fake
# CircleCI API on the host: checks a known sample on /metrics, the image's
# HEALTHCHECK, user and port, and that the container stops promptly on
# SIGTERM with exit code 0. Exits 77 (skipped) when podman cannot run here.
#
# Usage: image.sh SOURCE_DIR BUILD_DIR FAKE_API_BINARY
set -euo pipefail

SOURCE_DIR=$1
BUILD_DIR=$2
FAKE_API=$3
# shellcheck source=tests/container/lib.sh
. "$SOURCE_DIR/tests/container/lib.sh"

image=localhost/cie-test/exporter:latest
container=cie-test-exporter

container_init image
log "importing the Debian base image"
import_debian_base
probe_container_runtime

log "building docker/Dockerfile"
if ! podman build --format docker --network=host -f "$SOURCE_DIR/docker/Dockerfile" \
  -t "$image" "$SOURCE_DIR" >"$work_dir/build.log" 2>&1; then
  tail -30 "$work_dir/build.log" >&2
  fail "podman build of docker/Dockerfile failed; full log: $work_dir/build.log"
fi

log "checking the image config"
healthcheck=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$image")
echo "healthcheck: $healthcheck"
case "$healthcheck" in
  *'http://127.0.0.1:9904/-/healthy'*) ;;
  *) fail "the image has no HEALTHCHECK on http://127.0.0.1:9904/-/healthy: $healthcheck" ;;
esac
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[ "$user" = 10001:10001 ] || fail "image user is '$user', expected 10001:10001"
ports=$(podman image inspect --format '{{json .Config.ExposedPorts}}' "$image")
case "$ports" in
  *'"9904/tcp"'*) ;;
  *) fail "the image does not expose 9904/tcp: $ports" ;;
esac

start_fake_api
log "fake CircleCI API on 127.0.0.1:$fake_api_port"

# The demo config reads the API's URL and token from the environment. A copy
# that the container user can read is mounted where the ENTRYPOINT expects it.
install -m 644 "$SOURCE_DIR/config/demo.yml" "$work_dir/config.yml"
exporter_port=$(free_port)
# podman runs health checks through systemd timers, which this machine may
# lack; the check's command is run by hand below instead.
podman run --detach --name "$container" --network=host --no-healthcheck \
  --volume "$work_dir/config.yml:/etc/circleci-insights-exporter/config.yml:ro" \
  --env DEMO_API_URL="http://127.0.0.1:$fake_api_port/api/v2" \
  --env DEMO_TOKEN=test-token \
  "$image" --web.listen-address="127.0.0.1:$exporter_port" >/dev/null
remove_container() {
  podman rm --force --time 0 "$container" >/dev/null 2>&1
}
cleanup_steps+=(remove_container)
log "exporter container listening on 127.0.0.1:$exporter_port"

base_url=http://127.0.0.1:$exporter_port
expected='circleci_workflow_success_ratio{project="gh/CircleCI-Public/api-preview-docs",workflow="build",branch="master",window="last-7-days"} 0.5975609756097561'

is_ready() {
  [ "$(curl -sS -o /dev/null -w '%{http_code}' "$base_url/-/ready")" = 200 ]
}
if ! wait_for 60 is_ready; then
  podman logs "$container" 2>&1 | tail -20 >&2
  fail "$base_url/-/ready did not return 200 within 60 s"
fi

metrics=$(curl -fsS "$base_url/metrics") || fail "GET $base_url/metrics failed"
if ! grep -qxF "$expected" <<<"$metrics"; then
  grep -E '^circleci_(workflow_success_ratio|exporter_project_up)' <<<"$metrics" >&2 || true
  fail "$base_url/metrics does not contain: $expected"
fi
echo "found: $expected"

# The health check's client, run inside the container on the port in use.
podman exec "$container" curl -fsS -o /dev/null "$base_url/-/healthy" ||
  fail "curl inside the container could not reach /-/healthy"
uid=$(podman exec "$container" id -u)
[ "$uid" = 10001 ] || fail "the exporter runs as uid $uid, expected 10001"

log "stopping the container (SIGTERM, 10 s grace period)"
stop_start_ns=$(date +%s%N)
podman stop --time 10 "$container" >/dev/null
stop_ms=$((($(date +%s%N) - stop_start_ns) / 1000000))
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$container")
echo "stopped in $stop_ms ms, exit code $exit_code"
[ "$exit_code" = 0 ] || fail "the exporter exited with $exit_code on SIGTERM, expected 0"
if [ "$stop_ms" -ge 5000 ]; then
  fail "podman stop took $stop_ms ms: the exporter did not exit promptly on SIGTERM"
fi
podman logs "$container" 2>&1 | grep -q 'msg=stopping' ||
  fail "the exporter did not log msg=stopping"

log "PASS"
