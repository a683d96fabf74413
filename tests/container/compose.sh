#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Validates docker/compose.yml (all services, Grafana included) with
# `docker-compose config`, then brings up the exporter, Prometheus and the
# demo's fake CircleCI API through podman's Docker API, and checks that
# Prometheus scrapes the exporter (target up, a known sample, the rules
# loaded). Grafana's image lives only in a registry, so it is validated but
# not started. Exits 77 (skipped) when podman cannot run here.
#
# Usage: compose.sh SOURCE_DIR BUILD_DIR
set -euo pipefail

SOURCE_DIR=$1
BUILD_DIR=$2
# shellcheck source=tests/container/lib.sh
. "$SOURCE_DIR/tests/container/lib.sh"

container_init compose docker-compose python3

compose_file=$SOURCE_DIR/docker/compose.yml
override_file=$work_dir/compose.test.yml
export COMPOSE_PROJECT_NAME=cie-compose-test

# Free ports on 127.0.0.1 for every service (they use the host's network).
CIE_EXPORTER_PORT=$(free_port)
CIE_DEMO_API_PORT=$(free_port)
CIE_PROMETHEUS_PORT=$(free_port)
CIE_GRAFANA_PORT=$(free_port)
CIE_CONFIG=$SOURCE_DIR/config/demo.yml
export CIE_EXPORTER_PORT CIE_DEMO_API_PORT CIE_PROMETHEUS_PORT CIE_GRAFANA_PORT CIE_CONFIG
unset CIRCLECI_TOKEN

# In the test, the services bind to 127.0.0.1 only, and Prometheus scrapes
# this run's exporter port every 2 s so that the target is up within seconds.
cat >"$work_dir/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - /etc/prometheus/alerts.yml
scrape_configs:
  - job_name: circleci-insights-exporter
    static_configs:
      - targets: ["127.0.0.1:$CIE_EXPORTER_PORT"]
EOF
chmod 644 "$work_dir/prometheus.yml"
cat >"$override_file" <<EOF
services:
  exporter:
    command: ["--web.listen-address=127.0.0.1:$CIE_EXPORTER_PORT"]
  prometheus:
    command:
      - --config.file=/etc/prometheus/prometheus.yml
      - --storage.tsdb.path=/var/lib/prometheus/metrics2
      - --web.listen-address=127.0.0.1:$CIE_PROMETHEUS_PORT
    volumes:
      - $work_dir/prometheus.yml:/etc/prometheus/prometheus.yml:ro
EOF

compose() {
  docker-compose -f "$compose_file" -f "$override_file" --profile demo "$@"
}

log "docker-compose config"
docker-compose -f "$compose_file" config -q || fail "docker/compose.yml is not valid"
services=$(compose config --services | sort | tr '\n' ' ')
echo "services: $services"
[ "$services" = "exporter fake-api grafana prometheus " ] ||
  fail "expected the services exporter fake-api grafana prometheus, got: $services"

log "importing the Debian base image"
import_debian_base
probe_container_runtime

# A Unix socket path must fit in 108 bytes.
socket=$work_dir/podman.sock
if [ "${#socket}" -gt 100 ]; then
  socket_dir=$(mktemp -d /tmp/cie-podman.XXXXXX)
  socket=$socket_dir/podman.sock
  cleanup_steps+=("rm -rf $socket_dir")
fi
rm -f "$socket"
log "starting podman system service on $socket"
podman system service --time=0 "unix://$socket" >"$work_dir/podman-service.log" 2>&1 &
started_pids+=($!)
echo "$!" >"$work_dir/podman-service.pid"
wait_for 30 test -S "$socket" || fail "podman system service did not create $socket"
export DOCKER_HOST=unix://$socket

compose_down() {
  log "docker-compose down"
  compose down --volumes --timeout 10 >"$work_dir/compose-down.log" 2>&1 ||
    tail -20 "$work_dir/compose-down.log" >&2
}
cleanup_steps+=(compose_down)

# One after the other: the exporter's and the fake API's images share their
# first layers, so the second build reuses them.
log "docker-compose build (exporter, prometheus, fake-api)"
if ! compose build exporter prometheus fake-api >"$work_dir/compose-build.log" 2>&1; then
  tail -30 "$work_dir/compose-build.log" >&2
  fail "docker-compose build failed; full log: $work_dir/compose-build.log"
fi

log "docker-compose up (exporter, prometheus, fake-api)"
if ! compose up --detach --no-build exporter prometheus fake-api >"$work_dir/compose-up.log" 2>&1; then
  cat "$work_dir/compose-up.log" >&2
  fail "docker-compose up failed"
fi

prometheus_url=http://127.0.0.1:$CIE_PROMETHEUS_PORT

# Prints HEALTH:SCRAPE_URL for each active target, HEALTH being up, down or
# unknown.
target_health() {
  curl -fsS "$prometheus_url/api/v1/targets?state=active" | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
print(" ".join(t["health"] + ":" + t["scrapeUrl"] for t in targets))'
}
target_is_up() {
  [[ "$(target_health)" == "up:http://127.0.0.1:$CIE_EXPORTER_PORT/metrics" ]]
}
log "waiting for Prometheus on $prometheus_url to scrape the exporter"
if ! wait_for 120 target_is_up; then
  echo "targets: $(target_health 2>&1)" >&2
  compose logs --tail=20 >&2 || true
  fail "Prometheus does not report the exporter's target up"
fi
echo "target: $(target_health)"

# Prints the value of the instant query QUERY, or nothing.
query_value() {
  curl -fsS --get --data-urlencode "query=$1" "$prometheus_url/api/v1/query" | python3 -c '
import json, sys
result = json.load(sys.stdin)["data"]["result"]
print(result[0]["value"][1] if len(result) == 1 else "")'
}
query='circleci_workflow_success_ratio{project="gh/CircleCI-Public/api-preview-docs",workflow="build",branch="master",window="last-7-days"}'
expected=0.5975609756097561
value_is_expected() {
  [ "$(query_value "$query")" = "$expected" ]
}
if ! wait_for 60 value_is_expected; then
  fail "Prometheus returns '$(query_value "$query")' for $query, expected $expected"
fi
echo "query: $query = $expected"

rule_groups=$(curl -fsS "$prometheus_url/api/v1/rules" |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["data"]["groups"]))')
echo "rule groups loaded: $rule_groups"
[ "$rule_groups" -gt 0 ] || fail "Prometheus loaded no rule groups from dashboards/alerts.yml"

log "PASS"
