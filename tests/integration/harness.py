# SPDX-License-Identifier: MIT
"""Start the fake CircleCI API and the exporter for integration tests.

The helpers here start both programs on 127.0.0.1 with free ports, write
temporary configs, scrape the exporter, parse the Prometheus text format and
drive the fake API's control endpoints. Every wait has a deadline, and every
process started here is stopped by its PID, also when a test fails.

Python standard library only. A test script calls main(), which reads
--build-dir and --source-dir and then runs unittest on the remaining
arguments.
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

# Deadlines in seconds. They are generous because CI runs the tests two at a
# time on a loaded 2-core machine; no test asserts that anything is fast.
START_TIMEOUT = 60.0
WAIT_TIMEOUT = 120.0
HTTP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.25

FAKE_API_TOKEN = "test-token"

# Filled by main() from the command line.
BUILD_DIR = None
SOURCE_DIR = None

_running = []


class TestSetupError(Exception):
    """A server could not be started or did not respond as expected."""


# Paths


def exporter_binary():
    return os.path.join(BUILD_DIR, "circleci-insights-exporter")


def fake_api_binary():
    return os.path.join(BUILD_DIR, "tests", "fake_api", "fake-circleci-api")


def source_path(*parts):
    return os.path.join(SOURCE_DIR, *parts)


def fixtures_dir(name="demo"):
    return source_path("tests", "fixtures", name)


def demo_config_path():
    return source_path("config", "demo.yml")


# Waiting


def wait_for(fetch, condition, description, timeout=WAIT_TIMEOUT,
             interval=POLL_INTERVAL):
    """Call fetch until condition(value) is true, and return that value.

    Raises AssertionError naming the description and the last value seen
    when the deadline passes. An OSError, HTTP or parse error raised by
    fetch counts as a failed attempt, and its text is kept as the last value
    seen.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fetch()
        except (OSError, http.client.HTTPException, ValueError) as e:
            last = "%s: %s" % (type(e).__name__, e)
        else:
            last = value
            if condition(value):
                return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                "timed out after %.0f s waiting for %s; last value seen: %r"
                % (timeout, description, last))
        time.sleep(interval)


def wait_until(predicate, description, timeout=WAIT_TIMEOUT, interval=POLL_INTERVAL):
    """Poll predicate until it returns a true value, and return that value."""
    return wait_for(predicate, bool, description, timeout=timeout,
                    interval=interval)


# Processes


def _register(proc):
    _running.append(proc)


def _unregister(proc):
    if proc in _running:
        _running.remove(proc)


def stop_process(proc, timeout=STOP_TIMEOUT):
    """Send SIGTERM to proc, wait for it, SIGKILL it after timeout.

    Returns the exit status (negative for a signal), or None when proc was
    never started.
    """
    if proc is None:
        return None
    _unregister(proc)
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


def _read(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


# HTTP


class Response:
    """One HTTP response: status, headers (case-insensitive lookup), body."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    @property
    def text(self):
        return self.body.decode("utf-8")


def http_request(port, path, method="GET", headers=None, body=None,
                 timeout=HTTP_TIMEOUT):
    """Send one request to 127.0.0.1:port on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data)
    finally:
        conn.close()


# The fake CircleCI API


class FakeApi:
    """The fake CircleCI API serving one fixture directory.

    workdir receives the port file and the server's stdout and stderr.
    """

    def __init__(self, workdir, fixtures=None, token=FAKE_API_TOKEN,
                 extra_args=()):
        self.workdir = workdir
        self.fixtures = fixtures or fixtures_dir("demo")
        self.token = token
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.stdout_path = os.path.join(workdir, "fake-api.stdout")
        self.stderr_path = os.path.join(workdir, "fake-api.stderr")

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def api_url(self):
        """The URL for circleci.url in the exporter's config."""
        return self.base_url + "/api/v2"

    def start(self):
        port_file = os.path.join(self.workdir, "fake-api.port")
        cmd = [fake_api_binary(), "--listen=127.0.0.1:0",
               "--fixtures=" + self.fixtures, "--port-file=" + port_file]
        if self.token is not None:
            cmd.append("--token=" + self.token)
        cmd += self.extra_args
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        _register(self.proc)

        def port_written():
            if self.proc.poll() is not None:
                raise TestSetupError(
                    "fake API exited with status %s: %s"
                    % (self.proc.returncode, _read(self.stderr_path)))
            text = _read(port_file).strip()
            return int(text) if text.isdigit() else None

        self.port = wait_until(port_written, "the fake API's port file",
                               timeout=START_TIMEOUT)
        return self

    def stop(self):
        return stop_process(self.proc)

    def stderr(self):
        return _read(self.stderr_path)

    def _control(self, method, path, payload=None):
        body = None if payload is None else json.dumps(payload)
        headers = {"Content-Type": "application/json"} if body else {}
        r = http_request(self.port, path, method=method, headers=headers,
                         body=body)
        if r.status != 200:
            raise TestSetupError("%s %s: expected status 200, got %d: %s"
                                 % (method, path, r.status, r.text))
        return json.loads(r.text)

    def set_faults(self, rules):
        """Replace the fault rules (a list of dicts, see the fake API's
        POST /_control/faults); [] clears them."""
        return self._control("POST", "/_control/faults", rules)

    def clear_faults(self):
        return self.set_faults([])

    def faults(self):
        """The fault rules with their remaining counts and hits."""
        return self._control("GET", "/_control/faults")

    def set_fixtures(self, directory):
        """Serve another fixture directory from now on."""
        return self._control("POST", "/_control/fixtures",
                             {"dir": os.path.abspath(directory)})

    def request_log(self):
        """Every API request so far: dicts with t, method, path, query,
        status (0 for a dropped connection), fault, user_agent, accept."""
        return self._control("GET", "/_control/log")

    def reset(self):
        """Clear the faults and the request log, refill the rate limit."""
        r = http_request(self.port, "/_control/reset", method="POST")
        if r.status != 200:
            raise TestSetupError("POST /_control/reset: expected status 200, "
                                 "got %d: %s" % (r.status, r.text))


# Configs


def write_file(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def derive_config(text, **values):
    """Return config text with the value of each named key replaced.

    Each key must occur on exactly one line of text ("  key: value"), so a
    change of the source config makes the caller fail instead of testing
    something else.
    """
    for key, value in values.items():
        pattern = re.compile(r"^([ \t]*%s:)[ \t]*\S.*$" % re.escape(key),
                             re.MULTILINE)
        text, count = pattern.subn(lambda m: m.group(1) + " " + value, text)
        if count != 1:
            raise TestSetupError("config key %r: expected 1 line to replace, "
                                 "found %d" % (key, count))
    return text


def demo_config_text():
    return _read(demo_config_path())


# The exporter


class Exporter:
    """The exporter serving on 127.0.0.1 with a free port.

    env adds to (or, with the value None, removes from) the test's own
    environment. stderr goes to a file in workdir.
    """

    def __init__(self, workdir, config, args=(), env=None, name="exporter"):
        self.workdir = workdir
        self.config = config
        self.args = list(args)
        self.env = dict(env or {})
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.stdout_path = os.path.join(workdir, name + ".stdout")

    def start(self):
        cmd = [exporter_binary(), "--config.file=" + self.config,
               "--web.listen-address=127.0.0.1:0"] + self.args
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err,
                                         env=make_env(self.env))
        _register(self.proc)
        match = self.wait_for_log(r"msg=listening .*\bport=(\d+)",
                                  timeout=START_TIMEOUT)
        self.port = int(match.group(1))
        return self

    def stop(self):
        """Stop with SIGTERM; returns the exit status."""
        return stop_process(self.proc)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        return _read(self.stderr_path)

    def wait_for_log(self, pattern, timeout=WAIT_TIMEOUT):
        """Wait for a stderr line matching the regex pattern; returns the
        match. Fails at once when the exporter exits."""
        regex = re.compile(pattern)

        def find():
            for line in self.stderr().splitlines():
                m = regex.search(line)
                if m:
                    return m
            if not self.alive():
                raise AssertionError(
                    "exporter exited with status %s before logging a line "
                    "matching %r; stderr:\n%s"
                    % (self.proc.returncode, pattern, self.stderr()))
            return None

        return wait_until(find, "an exporter log line matching %r" % pattern,
                          timeout=timeout)

    def get(self, path, headers=None, method="GET"):
        return http_request(self.port, path, method=method, headers=headers)

    def wait_ready(self, timeout=WAIT_TIMEOUT):
        def ready():
            if not self.alive():
                raise AssertionError(
                    "exporter exited with status %s while waiting for "
                    "/-/ready; stderr:\n%s"
                    % (self.proc.returncode, self.stderr()))
            return self.get("/-/ready").status == 200

        wait_until(ready, "/-/ready to return 200", timeout=timeout)

    def scrape(self, headers=None):
        """GET /metrics; fails unless the status is 200. Returns the
        Response."""
        r = self.get("/metrics", headers=headers)
        if r.status != 200:
            raise AssertionError("GET /metrics: expected status 200, got %d: "
                                 "%r" % (r.status, r.body[:200]))
        return r

    def scrape_text(self):
        """The plain-text /metrics response, without gzip, as a string."""
        return self.scrape({"Accept-Encoding": "identity"}).text


def make_env(changes):
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_exporter(args, env=None, timeout=WAIT_TIMEOUT):
    """Run the exporter to completion (for --once and --check-config).

    Returns subprocess.CompletedProcess with text stdout and stderr.
    """
    return subprocess.run([exporter_binary()] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          env=make_env(env or {}), timeout=timeout,
                          encoding="utf-8", errors="replace")


# The Prometheus text format

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SUFFIXES = ("_total", "_created", "_bucket", "_sum", "_count", "_info",
             "_gcount", "_gsum")


class ParseError(ValueError):
    pass


class Sample:
    __slots__ = ("name", "labels", "value", "family", "line")

    def __init__(self, name, labels, value, family, line):
        self.name = name
        self.labels = labels
        self.value = value
        self.family = family
        self.line = line

    @property
    def key(self):
        return (self.name, frozenset(self.labels.items()))


class Family:
    __slots__ = ("name", "help", "type", "samples")

    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.samples = []


class Exposition:
    """A parsed exposition: families in order of first appearance, samples in
    order, and (family name, line) for every HELP, TYPE and sample line in
    order, for checking that each family's lines are contiguous."""

    def __init__(self):
        self.families = {}
        self.samples = []
        self.lines = []
        self.eof = False


def _unescape(text, escapes, where):
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in escapes:
                raise ParseError("invalid escape in %s: %r" % (where, text))
            out.append(escapes[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_labels(line, pos):
    """Parse '{a="x",b="y"}' from line[pos] == '{'; returns (dict, end)."""
    labels = {}
    pos += 1
    while True:
        if line.startswith("}", pos):
            return labels, pos + 1
        m = _LABEL_NAME.match(line, pos)
        if not m or not line.startswith('="', m.end()):
            raise ParseError("invalid label at column %d: %r" % (pos, line))
        name = m.group(0)
        pos = m.end() + 2
        chars = []
        while True:
            if pos >= len(line):
                raise ParseError("unterminated label value: %r" % line)
            c = line[pos]
            if c == "\\":
                nxt = line[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ParseError("invalid escape in label value: %r"
                                     % line)
                chars.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            else:
                chars.append(c)
                pos += 1
        if name in labels:
            raise ParseError("duplicate label %r: %r" % (name, line))
        labels[name] = "".join(chars)
        if line.startswith(",", pos):
            pos += 1
        elif not line.startswith("}", pos):
            raise ParseError("expected ',' or '}' at column %d: %r"
                             % (pos, line))


def _family_of(name, current):
    """The family a sample name belongs to: the current TYPE'd family when
    the name is it or it plus a standard suffix, else the name itself."""
    if current is not None:
        if name == current:
            return current
        for suffix in _SUFFIXES:
            if name == current + suffix:
                return current
    return name


def parse_exposition(text):
    """Parse the Prometheus text format (0.0.4) or OpenMetrics text.

    Raises ParseError on malformed lines. Label values and HELP texts are
    unescaped; sample values are kept as their text.
    """
    exp = Exposition()
    current = None
    for line in text.split("\n")[:-1] if text.endswith("\n") else \
            text.split("\n"):
        if exp.eof:
            raise ParseError("line after # EOF: %r" % line)
        if line == "# EOF":
            exp.eof = True
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not _NAME.fullmatch(parts[2]):
                raise ParseError("malformed %s line: %r" % (parts[1], line))
            name = parts[2]
            family = exp.families.setdefault(name, Family(name))
            if parts[1] == "HELP":
                if family.help is not None:
                    raise ParseError("second HELP for %s" % name)
                family.help = _unescape(parts[3], {"\\": "\\", "n": "\n"},
                                        "HELP")
            else:
                if family.type is not None:
                    raise ParseError("second TYPE for %s" % name)
                family.type = parts[3]
            current = name
            exp.lines.append((name, line))
            continue
        if line.startswith("#") or line == "":
            continue
        m = _NAME.match(line)
        if not m:
            raise ParseError("invalid sample line: %r" % line)
        name = m.group(0)
        pos = m.end()
        labels = {}
        if line.startswith("{", pos):
            labels, pos = _parse_labels(line, pos)
        rest = line[pos:].split(" ")
        if len(rest) < 2 or rest[0] != "" or len(rest) > 3:
            raise ParseError("expected ' VALUE [TIMESTAMP]': %r" % line)
        value = rest[1]
        float(value)  # raises ValueError for a malformed number
        family_name = _family_of(name, current)
        family = exp.families.setdefault(family_name, Family(family_name))
        sample = Sample(name, labels, value, family_name, line)
        family.samples.append(sample)
        exp.samples.append(sample)
        exp.lines.append((family_name, line))
    return exp


def parse_samples(text, as_text=False):
    """Map (name, frozenset(labels.items())) to the sample's value: a float,
    or its text with as_text. Fails on a duplicate series."""
    result = {}
    for s in parse_exposition(text).samples:
        if s.key in result:
            raise ParseError("duplicate series: %s" % s.line)
        result[s.key] = s.value if as_text else float(s.value)
    return result


def format_key(key):
    """Render a sample key as name{label="value",...} for messages."""
    name, labels = key
    inner = ",".join('%s=%s' % (k, json.dumps(v, ensure_ascii=False))
                     for k, v in sorted(labels))
    return "%s{%s}" % (name, inner)


def select(samples, name, **labels):
    """The entries of a parse_samples() dict with this name whose labels
    include the given ones."""
    want = set(labels.items())
    return {k: v for k, v in samples.items()
            if k[0] == name and want <= set(k[1])}


def value_of(samples, name, **labels):
    """The value of the one series with exactly these labels, or None."""
    return samples.get((name, frozenset(labels.items())))


# Test entry point


def _add_cleanup(owner, function):
    # owner is a TestCase (cleanup after the test) or a TestCase class
    # (cleanup after the class, for servers started in setUpClass).
    if isinstance(owner, type):
        owner.addClassCleanup(function)
    else:
        owner.addCleanup(function)


def temp_dir(owner):
    """A temporary directory removed when owner (a TestCase or TestCase
    class) is done."""
    d = tempfile.TemporaryDirectory(prefix="cie-integration-")
    _add_cleanup(owner, d.cleanup)
    return d.name


def start_fake_api(owner, workdir, **kwargs):
    """Start a FakeApi that stops when owner is done."""
    api = FakeApi(workdir, **kwargs)
    _add_cleanup(owner, api.stop)
    return api.start()


def start_exporter(owner, workdir, config, **kwargs):
    """Start an Exporter that stops when owner is done."""
    exp = Exporter(workdir, config, **kwargs)
    _add_cleanup(owner, exp.stop)
    return exp.start()


def demo_env(api, token=FAKE_API_TOKEN):
    """The environment variables that config/demo.yml reads."""
    return {"DEMO_API_URL": api.api_url, "DEMO_TOKEN": token}


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
    socket.setdefaulttimeout(HTTP_TIMEOUT)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
