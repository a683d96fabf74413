#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark of circleci-insights-exporter against the fake CircleCI API.

Started by tests/bench/run, which builds the binaries first. For each size
of fixtures.SIZES it measures the full refresh, the API requests it made,
the render (with render_bench), the exposition size, the peak RSS, and
/metrics under wrk, next to nginx serving the same bytes from a file. It
prints a Markdown report (report.py) and, with --write-docs, writes it to a
file. Talks only to 127.0.0.1.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import fixtures
import report

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "bench-token"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RATE = 500           # requests per second of the exporter's token bucket
BURST = 500
CONCURRENCY = 8
WRK_THREADS = 2
WRK_CONNECTIONS = 16
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# ------------------------------------------------------------ processes

def cpu_seconds(pid):
    """Return utime + stime of a process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state) of proc(5), so utime and stime, fields 14
    # and 15, are fields[11] and fields[12].
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def children(pid):
    """Return the PIDs of the children of pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def process_gone(pid):
    """Return True when pid has exited (a zombie counts as exited)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def stop(proc, timeout=10):
    """Stop a process we started, by its PID: SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout, description):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise RuntimeError("timed out after %gs waiting for %s" % (timeout, description))


def http_get(url, headers=None, timeout=60):
    """Return (status, headers, body) of a GET."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ------------------------------------------------------------ servers

class FakeApi:
    def __init__(self, binary, fixture_dir, work_dir):
        port_file = os.path.join(work_dir, "fake-api.port")
        if os.path.exists(port_file):
            os.remove(port_file)
        self.log = open(os.path.join(work_dir, "fake-api.stderr"), "w")
        self.proc = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", "--fixtures=" + fixture_dir,
             "--token=" + TOKEN, "--port-file=" + port_file],
            stdout=subprocess.DEVNULL, stderr=self.log)
        wait_for(lambda: os.path.exists(port_file) or self.proc.poll() is not None,
                 30, "the fake API's port file")
        if self.proc.poll() is not None:
            raise RuntimeError("the fake API exited; see " + self.log.name)
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = "http://127.0.0.1:%d" % self.port

    def request_log(self):
        return json.loads(http_get(self.url + "/_control/log")[2])

    def close(self):
        stop(self.proc)
        self.log.close()


class Exporter:
    def __init__(self, binary, config, work_dir):
        self.stderr_path = os.path.join(work_dir, "exporter.stderr")
        self.log = open(self.stderr_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + config,
             "--web.listen-address=127.0.0.1:0", "--log.level=info"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        self.pid = self.proc.pid
        self.cpu_at_start = cpu_seconds(self.pid)
        self.port = wait_for(self._port, 30, "the exporter's listening line")
        self.url = "http://127.0.0.1:%d" % self.port

    def _port(self):
        if self.proc.poll() is not None:
            raise RuntimeError("the exporter exited; see " + self.stderr_path)
        with open(self.stderr_path) as f:
            m = re.search(r"msg=listening .*?port=(\d+)", f.read())
        return int(m.group(1)) if m else None

    def wait_ready(self, timeout):
        def ready():
            try:
                return http_get(self.url + "/-/ready", timeout=5)[0] == 200
            except OSError:
                return False
        wait_for(ready, timeout, "/-/ready")
        return time.monotonic() - self.started, cpu_seconds(self.pid) - self.cpu_at_start

    def close(self):
        stop(self.proc)
        self.log.close()


NGINX_CONF = """\
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ }}
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/html;
        location = /metrics {{
            default_type "{content_type}";
            gzip_static on;
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx with its own prefix, config and pid file in a temporary directory."""

    def __init__(self, plain, gz):
        self.prefix = tempfile.mkdtemp(prefix="cie-bench-nginx-")
        os.chmod(self.prefix, 0o755)
        html = os.path.join(self.prefix, "html")
        os.mkdir(html)
        os.chmod(html, 0o755)
        for name, data in (("metrics", plain), ("metrics.gz", gz)):
            path = os.path.join(html, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o644)
        self.port = free_port()
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(prefix=self.prefix, port=self.port,
                                      content_type=CONTENT_TYPE))
        result = subprocess.run(["nginx", "-p", self.prefix, "-c", conf,
                                 "-e", os.path.join(self.prefix, "error.log")],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError("nginx did not start: " + result.stderr.strip())
        pid_file = os.path.join(self.prefix, "nginx.pid")
        wait_for(lambda: os.path.exists(pid_file), 10, "nginx's pid file")
        with open(pid_file) as f:
            self.pid = int(f.read())
        self.url = "http://127.0.0.1:%d" % self.port
        wait_for(lambda: len(children(self.pid)) >= 2, 10, "nginx's workers")

    def cpu_seconds(self):
        """Return the CPU seconds of the master and its workers together."""
        return sum(cpu_seconds(p) for p in [self.pid] + children(self.pid))

    def close(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
            wait_for(lambda: process_gone(self.pid), 10, "nginx to stop")
        except ProcessLookupError:
            pass
        shutil.rmtree(self.prefix, ignore_errors=True)


# ------------------------------------------------------------ measurements

def wrk(url, duration, accept_gzip, cpu_of):
    """Run wrk against url and return its summary with the server's CPU per request."""
    argv = ["wrk", "-t%d" % WRK_THREADS, "-c%d" % WRK_CONNECTIONS,
            "-d%ds" % duration, "--latency", "--timeout", "10s",
            "-s", os.path.join(HERE, "wrk_summary.lua")]
    if accept_gzip:
        argv += ["-H", "Accept-Encoding: gzip"]
    before = cpu_of()
    out = subprocess.run(argv + [url], capture_output=True, text=True,
                         check=True).stdout
    cpu = cpu_of() - before
    m = re.search(r"^WRK_JSON (\{.*\})$", out, re.M)
    if not m:
        raise RuntimeError("no summary in wrk's output:\n" + out)
    s = json.loads(m.group(1))
    s["rps"] = s["requests"] / (s["duration_us"] / 1e6)
    s["cpu_s"] = cpu
    s["cpu_us_per_request"] = cpu / s["requests"] * 1e6 if s["requests"] else 0
    s["errors"] = sum(v for k, v in s.items() if k.startswith("errors_"))
    return s


def endpoint_of(path):
    rest = path[len("/api/v2"):]
    if rest.startswith("/project/"):
        return "project"
    if rest.endswith("/workflows"):
        return "workflows"
    if rest.endswith("/jobs"):
        return "jobs"
    return "runs"


def count_requests(log):
    counts = {"project": 0, "workflows": 0, "jobs": 0, "runs": 0}
    not_ok = 0
    for entry in log:
        if not entry["path"].startswith("/api/v2/"):
            continue
        counts[endpoint_of(entry["path"])] += 1
        if entry["status"] != 200:
            not_ok += 1
    return counts, not_ok


def render_bench(binary, fixture_dir, iterations):
    out = subprocess.run([binary, fixture_dir, str(iterations)],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    # render_ms includes the deflate that deflate_ms measures on its own.
    r["text_ms"] = max(0.0, r["render_ms"] - r["deflate_ms"])
    return r


def write_config(path, api_url, projects):
    with open(path, "w") as f:
        f.write("circleci:\n  url: %s/api/v2\n  token: %s\n  timeout: 30s\n"
                "  max_retries: 2\n  max_concurrency: %d\n  rate_limit:\n"
                "    requests_per_second: %d\n    burst: %d\n"
                "defaults:\n  interval: 1h\n  windows: [%s]\nprojects:\n"
                % (api_url, TOKEN, CONCURRENCY, RATE, BURST, fixtures.WINDOW))
        for slug in projects:
            f.write("  - slug: %s\n" % slug)


def median_summary(runs):
    """Return the median of each figure over several wrk summaries, and each round's req/s."""
    out = {k: statistics.median(r[k] for r in runs)
           for k in ("rps", "p50_us", "p99_us", "cpu_us_per_request")}
    out["errors"] = sum(r["errors"] for r in runs)
    out["rounds_rps"] = [round(r["rps"], 1) for r in runs]
    out["runs"] = runs
    return out


def load_rounds(exporter, server, args):
    """Run wrk against the exporter and nginx in turn, plain and gzip, args.rounds times."""
    targets = {"exporter": (exporter.url, lambda: cpu_seconds(exporter.pid)),
               "nginx": (server.url, server.cpu_seconds)}
    runs = {}
    for i in range(args.rounds):
        for enc in ("plain", "gzip"):
            for name, (url, cpu_of) in targets.items():
                log("  round %d/%d: %s, %s" % (i + 1, args.rounds, name, enc))
                runs.setdefault(name + "_" + enc, []).append(
                    wrk(url + "/metrics", args.duration, enc == "gzip", cpu_of))
    return {key: median_summary(value) for key, value in runs.items()}


def fetch_responses(exporter, result):
    """Fetch the exporter's plain and gzip responses and store their sizes and series in result."""
    status, headers, plain = http_get(exporter.url + "/metrics")
    if status != 200:
        raise RuntimeError("/metrics returned status %d" % status)
    status, headers, gz = http_get(exporter.url + "/metrics",
                                   {"Accept-Encoding": "gzip"})
    if status != 200 or headers.get("Content-Encoding") != "gzip":
        raise RuntimeError("/metrics returned no gzip response to Accept-Encoding: gzip")
    m = re.search(rb"^circleci_exporter_series (\S+)$", gzip.decompress(gz), re.M)
    result["series"] = int(float(m.group(1))) if m else None
    result["plain_bytes"], result["gzip_bytes"] = len(plain), len(gz)
    return plain, gz


def measure_size(size, args, work_root):
    work = os.path.join(work_root, size)
    fixture_dir = os.path.join(work, "fixtures")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    plan = fixtures.generate(size, fixture_dir)
    result = {"size": size, "shape": fixtures.SIZES[size],
              "minimum": plan["minimum"]}
    log("%s: render benchmark" % size)
    result["render"] = render_bench(args.render_bench, fixture_dir, args.iterations)

    api = exporter = server = None
    try:
        api = FakeApi(args.fake_api, fixture_dir, work)
        config = os.path.join(work, "exporter.yml")
        write_config(config, api.url, plan["projects"])
        log("%s: full refresh" % size)
        exporter = Exporter(args.exporter, config, work)
        wall, cpu = exporter.wait_ready(300)
        result["refresh_wall_s"], result["refresh_cpu_s"] = wall, cpu
        result["rss_after_refresh_kib"] = status_kib(exporter.pid, "VmRSS")
        counts, not_ok = count_requests(api.request_log())
        result["requests"], result["requests_not_ok"] = counts, not_ok
        plain, gz = fetch_responses(exporter, result)

        server = Nginx(plain, gz)
        status, headers, body = http_get(server.url + "/metrics",
                                         {"Accept-Encoding": "gzip"})
        if body != gz or headers.get("Content-Encoding") != "gzip":
            raise RuntimeError("nginx does not serve metrics.gz as gzip")
        log("%s: wrk against the exporter and nginx" % size)
        result.update(load_rounds(exporter, server, args))
        result["peak_rss_kib"] = status_kib(exporter.pid, "VmHWM")
        counts_after, _ = count_requests(api.request_log())
        result["requests_during_load"] = (sum(counts_after.values()) -
                                          sum(counts.values()))
    finally:
        if server:
            server.close()
        if exporter:
            exporter.close()
        if api:
            api.close()
    return result


def log(message):
    print("bench: " + message, file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--exporter", required=True)
    parser.add_argument("--fake-api", required=True)
    parser.add_argument("--render-bench", required=True)
    parser.add_argument("--sizes", default=",".join(fixtures.SIZES),
                        help="comma-separated sizes (default: all)")
    parser.add_argument("--duration", type=int, default=10,
                        help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="wrk rounds per server and encoding, median reported (default 3)")
    parser.add_argument("--iterations", type=int, default=7,
                        help="render iterations, median reported (default 7)")
    parser.add_argument("--write-docs", metavar="FILE",
                        help="also write the report to FILE")
    parser.add_argument("--json", metavar="FILE", help="also write raw results to FILE")
    parser.add_argument("--command", default="tests/bench/run",
                        help="the command line to show in the report")
    args = parser.parse_args()
    started = time.time()
    load_at_start = os.getloadavg()

    sizes = [s for s in args.sizes.split(",") if s]
    for s in sizes:
        if s not in fixtures.SIZES:
            parser.error("unknown size %r; use %s" % (s, ", ".join(fixtures.SIZES)))
    work_root = os.path.join(args.build_dir, "bench")
    os.makedirs(work_root, exist_ok=True)
    results = [measure_size(s, args, work_root) for s in sizes]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    run = {"rate": RATE, "burst": BURST, "concurrency": CONCURRENCY,
           "wrk_threads": WRK_THREADS, "wrk_connections": WRK_CONNECTIONS,
           "duration": args.duration, "rounds": args.rounds,
           "iterations": args.iterations,
           "command": args.command, "started": started,
           "load_at_start": load_at_start}
    text = report.render(results, run)
    print(text, end="")
    if args.write_docs:
        report.write_docs(args.write_docs, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
