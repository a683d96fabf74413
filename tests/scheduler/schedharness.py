# SPDX-License-Identifier: MIT
"""Helpers of the scheduler and fault-tolerance tests.

They start the fake CircleCI API and the exporter on 127.0.0.1 with free
ports, write configs and generated fixture sets into temporary directories,
and scrape and parse /metrics. They also read the fake API's request log,
from which the tests derive their timing checks. Every wait has a
deadline, and every process started here is stopped by its PID when the
test ends, also when it fails.

Python standard library only. A test script calls main(), which reads
--build-dir and --source-dir and runs unittest on the other arguments.
"""

import argparse
import atexit
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# Deadlines in seconds. They only keep a test from hanging: CI runs the tests
# two at a time on a loaded 2-core machine, so they are generous.
START_TIMEOUT = 60.0
WAIT_TIMEOUT = 120.0
HTTP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.1

TOKEN = "test-token"

# The projects of config/demo.yml, as config_text() takes them.
DEMO_PROJECTS = [
    {"slug": "gh/CircleCI-Public/api-preview-docs",
     "windows": ["last-24-hours", "last-7-days", "last-30-days"]},
    {"slug": "circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/"
             "4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57",
     "branches": ["main", "release/2.0"],
     "windows": ["last-24-hours", "last-7-days"]},
    {"slug": "bb/acme/billing", "branches": ["*"]},
    {"slug": "gh/acme/empty"},
]
DOCS_SLUG = DEMO_PROJECTS[0]["slug"]
PAYMENTS_SLUG = DEMO_PROJECTS[1]["slug"]
BILLING_SLUG = DEMO_PROJECTS[2]["slug"]
EMPTY_SLUG = DEMO_PROJECTS[3]["slug"]

API_PREFIX = "/api/v2"

# Filled by main() from the command line.
BUILD_DIR = None
SOURCE_DIR = None

_running = []


class SetupError(Exception):
    """A server could not be started or did not respond as expected."""


# Paths


def exporter_binary():
    return os.path.join(BUILD_DIR, "circleci-insights-exporter")


def fake_api_binary():
    return os.path.join(BUILD_DIR, "tests", "fake_api", "fake-circleci-api")


def demo_fixtures(name="demo"):
    return os.path.join(SOURCE_DIR, "tests", "fixtures", name)


def temp_dir(test):
    """A temporary directory removed when test (a TestCase) ends."""
    d = tempfile.TemporaryDirectory(prefix="cie-scheduler-")
    test.addCleanup(d.cleanup)
    return d.name


def class_temp_dir(cls):
    """A temporary directory removed after the last test of cls."""
    d = tempfile.TemporaryDirectory(prefix="cie-scheduler-")
    cls.addClassCleanup(d.cleanup)
    return d.name


# Waiting


def wait_until(predicate, awaited, timeout=WAIT_TIMEOUT,
               interval=POLL_INTERVAL):
    """Poll predicate until it returns a true value, and return that value.

    Raises AssertionError naming the awaited condition and the last value
    seen when the deadline passes. OSError and HTTP errors raised by predicate
    count as a false result.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = predicate()
        except (OSError, http.client.HTTPException) as e:
            result, last = None, "%s: %s" % (type(e).__name__, e)
        else:
            last = result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0f s waiting for %s; "
                                 "last value seen: %r"
                                 % (timeout, awaited, last))
        time.sleep(interval)


# Processes


def _read(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def stop_process(proc, timeout=STOP_TIMEOUT):
    """Send SIGTERM to proc, wait for it, and SIGKILL it after timeout.

    Returns the exit status (negative for a signal), or None when proc is
    None.
    """
    if proc is None:
        return None
    if proc in _running:
        _running.remove(proc)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


@atexit.register
def _stop_leftovers():
    for proc in list(_running):
        try:
            stop_process(proc, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass


def http_request(port, path, method="GET", body=None, headers=None,
                 timeout=HTTP_TIMEOUT):
    """Send one request to 127.0.0.1:port; returns (status, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def port_is_closed(port):
    """True when nothing accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


# The fake CircleCI API


class FakeApi:
    """The fake CircleCI API on 127.0.0.1 with a free port.

    rate and burst set its own token bucket (--rate, --burst).
    """

    def __init__(self, workdir, fixtures, rate=None, burst=None,
                 name="fake-api"):
        self.workdir = workdir
        self.fixtures = fixtures
        self.rate = rate
        self.burst = burst
        self.name = name
        self.proc = None
        self.port = None

    def start(self):
        port_file = os.path.join(self.workdir, self.name + ".port")
        if os.path.exists(port_file):
            os.remove(port_file)
        cmd = [fake_api_binary(), "--listen=127.0.0.1:0",
               "--fixtures=" + self.fixtures, "--token=" + TOKEN,
               "--port-file=" + port_file]
        if self.rate is not None:
            cmd.append("--rate=%s" % self.rate)
        if self.burst is not None:
            cmd.append("--burst=%s" % self.burst)
        with open(os.path.join(self.workdir, self.name + ".out"), "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT)
        _running.append(self.proc)

        def port():
            if self.proc.poll() is not None:
                raise SetupError("fake API exited with status %s: %s"
                                 % (self.proc.returncode,
                                    _read(os.path.join(self.workdir,
                                                       self.name + ".out"))))
            text = _read(port_file)
            return int(text) if text.endswith("\n") else None

        self.port = wait_until(port, "the fake API's port file",
                               timeout=START_TIMEOUT)
        return self

    def stop(self):
        return stop_process(self.proc)

    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.port, API_PREFIX)

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        status, text = http_request(self.port, "/_control/" + path,
                                    method=method, body=data)
        if status != 200:
            raise SetupError("%s /_control/%s: expected status 200, got %d: "
                             "%s" % (method, path, status, text[:300]))
        return json.loads(text)

    def set_faults(self, rules):
        """Replace the fault rules (see the fake API's README); [] clears
        them."""
        return self.control("POST", "faults", rules)

    def faults(self):
        """The fault rules, with the remaining count and hits of each."""
        return self.control("GET", "faults")

    def set_fixtures(self, directory):
        return self.control("POST", "fixtures", {"dir": directory})

    def reset(self):
        """Clear the faults and the request log, and refill the bucket."""
        return self.control("POST", "reset")

    def requests(self):
        """The logged API requests, sorted by arrival time t."""
        entries = self.control("GET", "log")
        return sorted((e for e in entries
                       if e["path"].startswith(API_PREFIX + "/")),
                      key=lambda e: e["t"])

    def wait_requests(self, predicate, awaited, timeout=WAIT_TIMEOUT):
        """Read the request log until predicate(log) is true; returns that
        log."""
        def check():
            log = self.requests()
            return log if predicate(log) else None

        return wait_until(check, awaited, timeout=timeout)


# Request log analysis


def relative_path(entry):
    """The request's path below /api/v2."""
    return entry["path"][len(API_PREFIX):]


def request_url(entry):
    """Path and query of a log entry, as one string."""
    if entry["query"]:
        return entry["path"] + "?" + entry["query"]
    return entry["path"]


def endpoint_of(entry):
    """The exporter's endpoint label for a logged request."""
    path = relative_path(entry)
    if path.startswith("/project/"):
        return "project"
    if path.endswith("/jobs"):
        return "jobs"
    if path.endswith("/workflows"):
        return "workflows"
    if path.endswith("/branches"):
        return "branches"
    return "runs"


def is_workflows_request(entry, slug):
    return relative_path(entry) == "/insights/%s/workflows" % slug


def bucket_violations(times, rate, burst):
    """Find the windows [t_i, t_j] with more requests than a token bucket
    allows.

    A bucket of burst tokens refilled at rate per second lets at most
    burst + rate * (t_j - t_i) requests start in the window. One more is
    allowed for rounding. Returns (count, window length, allowed) tuples.
    """
    times = sorted(times)
    bad = []
    for i in range(len(times)):
        for j in range(i, len(times)):
            width = times[j] - times[i]
            allowed = burst + rate * width + 1
            if j - i + 1 > allowed:
                bad.append((j - i + 1, width, allowed))
    return bad


def max_overlap(times, duration):
    """The largest number of intervals [t, t + duration) that overlap."""
    events = sorted([(t, 1) for t in times] +
                    [(t + duration, -1) for t in times],
                    key=lambda e: (e[0], e[1]))
    depth = best = 0
    for _, step in events:
        depth += step
        best = max(best, depth)
    return best


# Configs


def _yaml_string(text):
    return json.dumps(text)


def config_text(url, projects, rate=50, burst=20, interval="60s",
                timeout="5s", max_retries=2, max_concurrency=4, jobs=True,
                last_runs=True, windows=("last-7-days",)):
    """A config for the exporter.

    projects is a list of dicts with the key slug and optionally branches,
    windows and interval. The other arguments set the circleci keys and the
    defaults of every project.
    """
    lines = [
        "circleci:",
        "  url: %s" % _yaml_string(url),
        "  token: %s" % _yaml_string(TOKEN),
        "  timeout: %s" % timeout,
        "  max_retries: %d" % max_retries,
        "  max_concurrency: %d" % max_concurrency,
        "  rate_limit:",
        "    requests_per_second: %s" % rate,
        "    burst: %s" % burst,
        "defaults:",
        "  interval: %s" % interval,
        "  windows: [%s]" % ", ".join(windows),
        "  jobs: %s" % ("true" if jobs else "false"),
        "  last_runs: %s" % ("true" if last_runs else "false"),
        "projects:",
    ]
    for p in projects:
        lines.append("  - slug: %s" % _yaml_string(p["slug"]))
        for key in ("branches", "windows"):
            if key in p:
                lines.append("    %s: [%s]" % (
                    key, ", ".join(_yaml_string(v) for v in p[key])))
        if "interval" in p:
            lines.append("    interval: %s" % p["interval"])
    return "\n".join(lines) + "\n"


def write_file(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# Generated fixture sets


def generated_slugs(count):
    return ["gh/org/p%03d" % i for i in range(count)]


def generated_value(slug, workflow, job, version):
    """total_runs of a generated workflow (job None) or job.

    Distinct per project, workflow, job and version, so a test can tell
    which response a served value came from.
    """
    index = int(slug.rsplit("p", 1)[1])
    base = 1000 * (index + 1) + 100 * version
    base += 10 * (1 + sum(map(ord, workflow)) % 7)
    if job is not None:
        base += 1 + sum(map(ord, job)) % 7
    return base


def _summary(name, total, window_end):
    failed = total // 4
    return {
        "name": name,
        "metrics": {
            "success_rate": (total - failed) / total,
            "total_runs": total,
            "failed_runs": failed,
            "successful_runs": total - failed,
            "throughput": total / 7,
            "mttr": 600 + total,
            "duration_metrics": {"min": 10, "max": 900 + total,
                                 "median": 300, "mean": 320, "p95": 800,
                                 "standard_deviation": 55.5},
            "total_credits_used": total * 10,
            "total_recoveries": failed,
        },
        "window_start": "2024-11-27T00:00:00.000Z",
        "window_end": window_end,
    }


def generate_fixtures(directory, count, workflows=("build", "deploy"),
                      jobs=("compile", "test"), version=1, drop=()):
    """Write routes.json and response files for count projects gh/org/pNNN.

    Each project has the default branch main and, in the window
    last-7-days, the given workflows, each with the given jobs and two
    finished runs. version changes every value (see generated_value()), and
    drop lists (slug, workflow) pairs left out of the workflows response.
    Returns the slugs.
    """
    os.makedirs(directory, exist_ok=True)
    routes = []
    window_end = "2024-12-03T%02d:00:00.000Z" % version
    for slug in generated_slugs(count):
        name = slug.rsplit("/", 1)[1]
        files = {}
        files["project"] = {
            "slug": slug, "name": name, "id": "id-" + name,
            "organization_name": "org", "organization_slug": "gh/org",
            "organization_id": "org-id",
            "vcs_info": {"vcs_url": "https://github.com/org/" + name,
                         "provider": "GitHub", "default_branch": "main"},
        }
        routes.append({"path": "/project/" + slug,
                       "file": name + "-project.json"})
        listed = [w for w in workflows if (slug, w) not in drop]
        files["workflows"] = {
            "next_page_token": None,
            "items": [_summary(w, generated_value(slug, w, None, version),
                               window_end) for w in listed],
        }
        routes.append({"path": "/insights/%s/workflows" % slug,
                       "query": {"reporting-window": "last-7-days"},
                       "file": name + "-workflows.json"})
        for w in workflows:
            files["jobs-" + w] = {
                "next_page_token": None,
                "items": [_summary(j, generated_value(slug, w, j, version),
                                   window_end) for j in jobs],
            }
            routes.append({"path": "/insights/%s/workflows/%s/jobs"
                                   % (slug, w),
                           "query": {"reporting-window": "last-7-days"},
                           "file": "%s-jobs-%s.json" % (name, w)})
            files["runs-" + w] = {
                "next_page_token": None,
                "items": [
                    {"id": "run-2", "branch": "main",
                     "duration": 60 + version, "status": "success",
                     "created_at": "2024-12-03T10:00:00.000Z",
                     "stopped_at": "2024-12-03T10:01:00.000Z",
                     "credits_used": 100 * version, "is_approval": False},
                    {"id": "run-1", "branch": "main", "duration": 50,
                     "status": "failed",
                     "created_at": "2024-12-02T10:00:00.000Z",
                     "stopped_at": "2024-12-02T10:00:50.000Z",
                     "credits_used": 90, "is_approval": False},
                ],
            }
            routes.append({"path": "/insights/%s/workflows/%s" % (slug, w),
                           "file": "%s-runs-%s.json" % (name, w)})
        for key, body in files.items():
            write_file(os.path.join(directory, "%s-%s.json" % (name, key)),
                       json.dumps(body, indent=1) + "\n")
    write_file(os.path.join(directory, "routes.json"),
               json.dumps(routes, indent=1) + "\n")
    return generated_slugs(count)


def generated_projects(slugs):
    return [{"slug": s} for s in slugs]


# The Prometheus text format


# A sample line: name, optional {labels} (quoted values may contain any
# escaped character, braces included) and value, without a timestamp.
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
                     r'(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?'
                     r' (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _unescape(value):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n"
                  else m.group(1), value)


def parse_metrics(text):
    """Map (name, frozenset of label pairs) to the value (float) of every
    sample of a text-format response. Raises ValueError on a line that is
    not a sample, a comment or empty, and on a duplicate series."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("not a sample line: %r" % line)
        labels = frozenset((k, _unescape(v))
                           for k, v in _LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        if key in samples:
            raise ValueError("duplicate series: %r" % line)
        samples[key] = float(m.group(3))
    return samples


def value_of(samples, name, **labels):
    """The value of the series with exactly these labels, or None."""
    return samples.get((name, frozenset(labels.items())))


def select(samples, name=None, **labels):
    """The series named name (any name when None) whose labels include the
    given ones."""
    want = set(labels.items())
    return {k: v for k, v in samples.items()
            if (name is None or k[0] == name) and want <= set(k[1])}


def circleci_series(samples):
    """The series built from CircleCI API responses, without the
    exporter's own."""
    return {k: v for k, v in samples.items()
            if k[0].startswith(("circleci_workflow_", "circleci_job_"))
            or k[0] == "circleci_project_info"}


def format_key(key):
    name, labels = key
    inner = ",".join('%s=%s' % (k, json.dumps(v, ensure_ascii=False))
                     for k, v in sorted(labels))
    return "%s{%s}" % (name, inner)


def series_difference(expected, seen, limit=10):
    """Describe how the series dicts expected and seen differ, in at most
    limit lines; '' when they are equal."""
    lines = []
    for key in sorted(set(expected) | set(seen), key=format_key):
        want, got = expected.get(key), seen.get(key)
        if want != got:
            lines.append("%s: expected %r, seen %r"
                         % (format_key(key), want, got))
    if not lines:
        return ""
    more = "\n... and %d more" % (len(lines) - limit) \
        if len(lines) > limit else ""
    return "%d series differ:\n%s%s" % (len(lines), "\n".join(lines[:limit]),
                                         more)


def assert_same_series(test, expected, seen, description):
    """Fail test unless the series dicts expected and seen are equal."""
    difference = series_difference(expected, seen)
    if difference:
        test.fail("%s: %s" % (description, difference))


# The exporter


class Exporter:
    """The exporter serving on 127.0.0.1 with a free port; stderr goes to a
    file in workdir."""

    def __init__(self, workdir, config, log_level="info", name="exporter"):
        self.workdir = workdir
        self.config = config
        self.log_level = log_level
        self.name = name
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(workdir, name + ".stderr")

    def start(self):
        cmd = [exporter_binary(), "--config.file=" + self.config,
               "--web.listen-address=127.0.0.1:0",
               "--log.level=" + self.log_level]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=err)
        _running.append(self.proc)
        m = self.wait_for_log(r"msg=listening .*\bport=(\d+)",
                              timeout=START_TIMEOUT)
        self.port = int(m.group(1))
        return self

    def stop(self):
        """Stop with SIGTERM; returns the exit status."""
        return stop_process(self.proc)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, signum):
        self.proc.send_signal(signum)

    def stderr(self):
        return _read(self.stderr_path)

    def log_lines(self, pattern):
        """The stderr lines in which the regex pattern is found."""
        regex = re.compile(pattern)
        return [line for line in self.stderr().splitlines()
                if regex.search(line)]

    def _check_alive(self, awaited):
        if not self.alive():
            raise AssertionError("exporter exited with status %s while "
                                 "waiting for %s; stderr:\n%s"
                                 % (self.proc.returncode, awaited,
                                    self.stderr()[-3000:]))

    def wait_for_log(self, pattern, count=1, timeout=WAIT_TIMEOUT):
        """Wait until count stderr lines match the regex pattern; returns
        the match of the first."""
        regex = re.compile(pattern)
        awaited = "%d exporter log line(s) matching %r" % (count, pattern)

        def find():
            found = [m for m in map(regex.search, self.stderr().splitlines())
                     if m]
            if len(found) >= count:
                return found[0]
            self._check_alive(awaited)
            return None

        return wait_until(find, awaited, timeout=timeout)

    def scrape(self):
        """GET /metrics as parsed samples; fails unless the status is 200."""
        status, body = http_request(self.port, "/metrics")
        if status != 200:
            raise AssertionError("GET /metrics: expected status 200, got %d"
                                 % status)
        return parse_metrics(body.decode("utf-8"))

    def wait_scrape(self, predicate, awaited, timeout=WAIT_TIMEOUT,
                    describe=None):
        """Scrape until predicate(samples) is true; returns those samples.

        On timeout the message ends with describe(last samples) when
        describe is given.
        """
        last = {}

        def check():
            self._check_alive(awaited)
            last["samples"] = self.scrape()
            return last["samples"] if predicate(last["samples"]) else None

        try:
            return wait_until(check, awaited, timeout=timeout)
        except AssertionError as e:
            if describe is None or "samples" not in last:
                raise
            raise AssertionError("%s\n%s" % (e, describe(last["samples"])))

    def wait_ready(self, timeout=WAIT_TIMEOUT):
        def ready():
            self._check_alive("/-/ready")
            return http_request(self.port, "/-/ready")[0] == 200

        wait_until(ready, "/-/ready to return 200", timeout=timeout)

    def wait_all_up(self, slugs, timeout=WAIT_TIMEOUT):
        """Wait until circleci_exporter_project_up is 1 for every slug;
        returns the samples of that scrape."""
        def all_up(samples):
            return all(value_of(samples, "circleci_exporter_project_up",
                                project=s) == 1 for s in slugs)

        return self.wait_scrape(all_up, "project_up 1 for all of %d projects"
                                % len(slugs), timeout=timeout)


def start_fake_api(test, workdir, fixtures, **kwargs):
    """Start a FakeApi that is stopped when test ends."""
    api = FakeApi(workdir, fixtures, **kwargs)
    test.addCleanup(api.stop)
    return api.start()


def start_exporter(test, workdir, config_text_, log_level="info",
                   name="exporter"):
    """Write config_text_ to a file in workdir and start an Exporter on it
    that is stopped when test ends."""
    path = write_file(os.path.join(workdir, name + ".yml"), config_text_)
    exp = Exporter(workdir, path, log_level=log_level, name=name)
    test.addCleanup(exp.stop)
    return exp.start()


def reference_series(workdir, fixtures, projects, name="reference", **config):
    """The CircleCI series of a fault-free `--once` run over fixtures.

    Starts its own fake API, so the caller's request log stays untouched.
    """
    api = FakeApi(workdir, fixtures, name=name + "-api").start()
    try:
        path = write_file(os.path.join(workdir, name + ".yml"),
                          config_text(api.url, projects, **config))
        done = subprocess.run([exporter_binary(), "--config.file=" + path,
                               "--once"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=WAIT_TIMEOUT)
    finally:
        api.stop()
    if done.returncode != 0:
        raise SetupError("reference run over %s: expected exit status 0, "
                         "got %d; stderr:\n%s"
                         % (fixtures, done.returncode,
                            done.stderr.decode("utf-8", "replace")[-3000:]))
    return circleci_series(parse_metrics(done.stdout.decode("utf-8")))


# Test entry point


def _sigterm(signum, frame):
    # CTest stops a test that runs past its timeout with SIGTERM; exiting
    # through SystemExit runs the cleanups that stop the servers.
    raise SystemExit(128 + signum)


def main():
    """Read --build-dir and --source-dir, then run unittest.main()."""
    global BUILD_DIR, SOURCE_DIR

    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    args, rest = parser.parse_known_args()
    BUILD_DIR = os.path.abspath(args.build_dir)
    SOURCE_DIR = os.path.abspath(args.source_dir)
    for path in (exporter_binary(), fake_api_binary()):
        if not os.access(path, os.X_OK):
            sys.exit("missing %s: build the project first" % path)
    signal.signal(signal.SIGTERM, _sigterm)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
