# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Helpers of the container tests (image.sh, compose.sh), sourced by them.
#
# Each test gets its own podman state under BUILD_DIR/container/NAME: image
# storage, run root, temporary files and network configs, through
# CONTAINERS_CONF and CONTAINERS_STORAGE_CONF. Nothing in the host's
# /var/lib/containers is touched, and cleanup removes that directory.
#
# No registry is reachable, so the Debian base image comes from debootstrap
# with the mirror that the host's apt uses. Its tarball is cached in
# BUILD_DIR/container/cache, so only the first run pays for it (about 30 s).
#
# Set CIE_KEEP_CONTAINER_STATE=1 to keep the podman storage after a run for
# debugging; the next run removes it.

SKIP_CODE=77

log() {
  printf '[%5ss] %s\n' "$SECONDS" "$*"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

skip() {
  echo "SKIP: $*"
  exit "$SKIP_CODE"
}

# Started background processes, stopped by PID at exit.
started_pids=()

# Functions run at exit, newest first, before the podman state is removed.
cleanup_steps=()

run_cleanup() {
  local status=$? i
  set +e
  for ((i = ${#cleanup_steps[@]} - 1; i >= 0; i--)); do
    ${cleanup_steps[i]}
  done
  stop_started_processes
  if [ -n "${work_dir:-}" ] && [ -z "${CIE_KEEP_CONTAINER_STATE:-}" ]; then
    remove_podman_state
  fi
  return "$status"
}

stop_started_processes() {
  local pid
  for pid in "${started_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${started_pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  started_pids=()
}

# Checks the tools and sets up the podman state of test NAME under
# BUILD_DIR/container. Skips (exit 77) when the tools are missing or the
# caller is not root.
container_init() {
  local name=$1
  shift
  local tool
  for tool in podman runc debootstrap "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      skip "$tool is not installed (scripts/install-deps --test installs it)"
    fi
  done
  if [ "$(id -u)" != 0 ]; then
    skip "the container tests need root: debootstrap and rootful podman"
  fi

  container_root=$BUILD_DIR/container
  work_dir=$container_root/$name
  cache_dir=$container_root/cache
  mkdir -p "$work_dir" "$cache_dir"
  trap run_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT

  # podman fails here with its default runtime crun on a hybrid cgroup
  # hierarchy, and containers fail to start unless the open-files limit
  # stays at the caller's hard limit.
  local nofile
  nofile=$(ulimit -Hn)
  cat >"$work_dir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work_dir/events.log"
tmp_dir = "$work_dir/tmp"

[network]
network_config_dir = "$work_dir/networks"
EOF
  cat >"$work_dir/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$work_dir/storage"
runroot = "$work_dir/run"
EOF
  export CONTAINERS_CONF=$work_dir/containers.conf
  export CONTAINERS_STORAGE_CONF=$work_dir/storage.conf

  # A run that was killed (a CTest timeout) may have left containers,
  # mounts and a podman service behind.
  stop_pid_file "$work_dir/podman-service.pid" "podman"
  remove_podman_state
  mkdir -p "$work_dir/tmp" "$work_dir/networks"
}

# Stops the process whose PID is in FILE if its command line contains WORD,
# so that a PID reused by another program is left alone.
stop_pid_file() {
  local file=$1 word=$2 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$word"; then
    kill -TERM "$pid" 2>/dev/null
    sleep 1
  fi
  rm -f "$file"
}

# Removes every container, image and volume of this test's storage, then
# the storage itself. Only paths under work_dir are affected.
remove_podman_state() {
  if [ -d "$work_dir/storage" ]; then
    podman rm --all --force --time 0 >/dev/null 2>&1
    podman volume rm --all --force >/dev/null 2>&1
    podman rmi --all --force >/dev/null 2>&1
    # Unmount what a killed run may have left mounted, deepest first.
    local mount_point
    awk -v prefix="$work_dir/" 'index($2, prefix) == 1 { print $2 }' /proc/mounts |
      sort -r | while read -r mount_point; do
        umount -l "$mount_point" 2>/dev/null
      done
  fi
  rm -rf "$work_dir/storage" "$work_dir/run" "$work_dir/tmp" "$work_dir/networks" \
    "$work_dir/events.log" "$work_dir/events.log.lock" "$work_dir/podman-service.pid"
}

# Prints the first URI of the host's Debian archive (not debian-security)
# from the deb822 sources file.
debian_mirror() {
  local sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$sources" ]; then
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$sources"
  elif [ -f /etc/apt/sources.list ]; then
    awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list
  fi
}

# Builds (once, cached) a Debian 12 minbase root filesystem and imports it
# as docker.io/library/debian:bookworm-slim and :bookworm, so that the
# Dockerfiles' FROM lines resolve without a registry.
import_debian_base() {
  local tarball=$cache_dir/bookworm-minbase.tar
  (
    flock 9
    if [ ! -s "$tarball" ]; then
      build_debian_base "$tarball"
    fi
  ) 9>"$cache_dir/lock" || fail "could not build the Debian base image"
  podman import --quiet "$tarball" docker.io/library/debian:bookworm-slim >/dev/null ||
    fail "podman import of $tarball failed"
  podman tag docker.io/library/debian:bookworm-slim docker.io/library/debian:bookworm
}

build_debian_base() {
  local tarball=$1 mirror rootfs
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt/sources.list.d/debian.sources"
  rootfs=$cache_dir/rootfs
  rm -rf "$rootfs"
  log "debootstrap --variant=minbase bookworm from $mirror"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache_dir/debootstrap.log" 2>&1; then
    tail -20 "$cache_dir/debootstrap.log" >&2
    fail "debootstrap failed; full log: $cache_dir/debootstrap.log"
  fi
  # Use the host's apt sources (with updates and security) as the image's,
  # and leave no package lists or downloaded packages in the image.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
}

# Skips the test when podman cannot start a container on this machine.
probe_container_runtime() {
  local output
  if ! output=$(podman run --rm --network=host docker.io/library/debian:bookworm-slim true 2>&1); then
    skip "podman cannot run a container here: $(printf '%s' "$output" | tail -3 | tr '\n' ' ')"
  fi
}

# Prints a TCP port on 127.0.0.1 that is free at the time of the call.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the fake CircleCI API on the host with the demo fixtures and sets
# fake_api_port for the caller.
# shellcheck disable=SC2034
start_fake_api() {
  local port_file=$work_dir/fake-api.port
  rm -f "$port_file"
  "$FAKE_API" --listen=127.0.0.1:0 --fixtures="$SOURCE_DIR/tests/fixtures/demo" \
    --token=test-token --port-file="$port_file" >/dev/null &
  started_pids+=($!)
  wait_for 10 test -s "$port_file" || fail "the fake CircleCI API did not write $port_file"
  fake_api_port=$(cat "$port_file")
}

# Runs COMMAND every half second until it succeeds. Returns 1 when it still
# fails after SECONDS_MAX seconds.
wait_for() {
  local seconds_max=$1 deadline
  shift
  deadline=$((SECONDS + seconds_max))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.5
  done
}
