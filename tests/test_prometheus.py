#!/usr/bin/env python3
"""Run the dashboard's queries and the rules against a real Prometheus.

Starts the fake CircleCI API, the exporter and Prometheus, all on 127.0.0.1.
Prometheus scrapes the exporter every second and evaluates the rules file
every second. Then every query of the dashboard runs as an instant query. A
query fails on a query error, and on an empty result unless it reads a metric
that is missing from the exporter's /metrics with the demo data. A query that
reads a threshold variable and is empty at the default value must return data
with a threshold that keeps every series. Every recording rule must return
data on the same terms, and every rule must report health "ok".

Prints one line per check and ends with "N passed, N failed". The exit status
is 0 only if no check failed. Every process the test starts is stopped by its
PID before it exits. Uses the Python standard library only.
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

SCRAPE_JOB = "circleci-insights-exporter"
API_TOKEN = "test-token"
LOG_TAIL_LINES = 20
PANEL_TYPES = {"row", "timeseries", "stat", "table", "bargauge", "state-timeline"}

# Values that replace the Grafana variables in a query. Query variables
# (project, workflow, branch, window) become ".*", as Grafana's "All" does with
# the dashboard's allValue. Textbox and constant variables take their default
# from the dashboard.
BUILTIN_VARIABLES = {"__rate_interval": "1m", "__interval": "1m", "__range": "5m"}
ALL_VALUE = ".*"

# A threshold variable filters series out, so a query that reads it may be
# empty at the default with the demo data. Such a query runs a second time with
# this value, which keeps every series, and must return data then.
THRESHOLD_VARIABLES_SELECTING_ALL = {"success_threshold": "+Inf"}

GRAFANA_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]")
PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
}
NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SetupError(Exception):
    """A process did not start or a wait ran past its deadline."""


class Report:
    """Counter of passed and failed checks, which prints one line per check."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.exemptions = []

    def ok(self, name, detail):
        self.passed += 1
        print(f"ok    {name}: {detail}", flush=True)

    def fail(self, name, detail, expr=None):
        self.failed += 1
        print(f"FAIL  {name}: {detail}", flush=True)
        if expr is not None:
            print("      query: " + " ".join(expr.split()), flush=True)

    def exempt(self, name, missing):
        self.passed += 1
        names = ", ".join(sorted(missing))
        self.exemptions.append(f"{name} reads {names}")
        print(f"ok    {name}: 0 series, exempt because /metrics has no samples of {names}", flush=True)


# Processes


def stop_with_parent():
    """Ask Linux to send SIGTERM to the child when the test process dies.

    This covers a test runner that kills the test with SIGKILL, when no
    cleanup code of the test can run.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def environment_without_proxy(extra):
    """Return os.environ without proxy settings, updated with extra.

    libcurl and Go read the proxy variables, and every request of this test
    must go straight to 127.0.0.1.
    """
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    env["no_proxy"] = "*"
    env["NO_PROXY"] = "*"
    env.update(extra)
    return env


class Started:
    """A process started by the test, with the files of its stdout and stderr."""

    def __init__(self, name, process, stdout_path, stderr_path):
        self.name = name
        self.process = process
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path


class Processes:
    """The processes started by the test."""

    def __init__(self, directory):
        self.directory = directory
        self.started = []

    def start(self, name, argv, env=None):
        stdout_path = os.path.join(self.directory, f"{name}.stdout")
        stderr_path = os.path.join(self.directory, f"{name}.stderr")
        with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=environment_without_proxy(env or {}),
                preexec_fn=stop_with_parent,
            )
        started = Started(name, process, stdout_path, stderr_path)
        self.started.append(started)
        print(f"started {name} (PID {process.pid}): {' '.join(argv)}", flush=True)
        return started

    def check_running(self):
        """Raise SetupError if a started process has exited."""
        for started in self.started:
            process = started.process
            if process.poll() is not None:
                raise SetupError(
                    f"{started.name} (PID {process.pid}) exited with status {process.returncode}\n"
                    + tail(started.stderr_path)
                )

    def stop_all(self):
        """Send SIGTERM to each process by PID, and SIGKILL after 10 s."""
        for started in reversed(self.started):
            process = started.process
            if process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                print(f"{started.name} (PID {process.pid}) ignored SIGTERM for 10 s, sending SIGKILL",
                      flush=True)
                process.kill()
                process.wait()

    def print_logs(self):
        for started in self.started:
            for label, path in (("stdout", started.stdout_path), ("stderr", started.stderr_path)):
                text = tail(path)
                if text:
                    print(f"--- last lines of {started.name} {label} ---\n{text}", flush=True)


def tail(path, lines=LOG_TAIL_LINES):
    try:
        with open(path, "rb") as log:
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(description, probe, processes, timeout):
    """Call probe every 0.2 s until it returns a value other than None.

    Raises SetupError when a started process exits or the timeout passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        processes.check_running()
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise SetupError(f"timed out after {timeout:.0f} s waiting for {description}")
        time.sleep(0.2)


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# HTTP


def http_get(url, timeout=5):
    """Return (status, body) of a GET request, or (None, error text) if it failed."""
    try:
        with NO_PROXY_OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as error:
        return None, str(error)


class Prometheus:
    """Client of the Prometheus HTTP API on 127.0.0.1."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def query(self, expr):
        """Run an instant query at the current time.

        Returns (result, None) on success and (None, error message) otherwise.
        A vector or matrix result is a list of series, a scalar or string a
        list of one value.
        """
        data = urllib.parse.urlencode({"query": expr}).encode()
        request = urllib.request.Request(f"{self.base}/api/v1/query", data=data, method="POST")
        try:
            with NO_PROXY_OPENER.open(request, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            try:
                body = json.load(error)
            except ValueError:
                return None, f"HTTP {error.code}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            return None, f"request failed: {error}"
        if body.get("status") != "success":
            return None, f"{body.get('errorType', 'error')}: {body.get('error', 'no message')}"
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [data["result"]], None
        return data["result"], None

    def rule_groups(self):
        status, body = http_get(f"{self.base}/api/v1/rules")
        if status != 200:
            return None
        return json.loads(body)["data"]["groups"]


# PromQL and Grafana text


def metric_names(expr):
    """Return the metric names that a PromQL expression selects.

    The scan is lexical, which is enough for the dashboard and the rules. It
    drops string literals, label matchers, range durations and grouping label
    lists, then takes every remaining identifier that is not a keyword or a
    function call.
    """
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", text):
        name = match.group(1)
        if name.lower() not in PROMQL_KEYWORDS:
            names.add(name)
    return names


def sample_names(exposition):
    """Return the names of the samples in a text exposition."""
    names = set()
    for line in exposition.splitlines():
        match = re.match(r"([a-zA-Z_:][\w:]*)", line)
        if match:
            names.add(match.group(1))
    return names


def substitute(expr, values):
    """Replace Grafana variables in expr by values.

    Returns (text, unknown names). A reference to a number, such as $1 in the
    replacement string of label_replace, is a regular expression group and
    stays as it is.
    """
    unknown = []

    def replace(match):
        name = match.group(1) or match.group(2) or match.group(3)
        if name in values:
            return values[name]
        if not name.isdigit():
            unknown.append(name)
        return match.group(0)

    return GRAFANA_VARIABLE.sub(replace, expr), unknown


def walk_panels(panels):
    """Yield every panel, with the panels inside collapsed rows."""
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def variable_values(dashboard):
    """Return the value of each dashboard variable that the test uses."""
    values = dict(BUILTIN_VARIABLES)
    for variable in dashboard.get("templating", {}).get("list", []):
        kind = variable.get("type")
        if kind == "query":
            values[variable["name"]] = ALL_VALUE
        elif kind in ("textbox", "constant"):
            values[variable["name"]] = str(variable.get("query", ""))
    return values


def parse_rfc3339(text):
    """Return Unix seconds of a Prometheus timestamp such as 2024-05-01T10:00:00.123456789Z."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        return 0.0
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    seconds = datetime.fromisoformat(base + zone).timestamp()
    return seconds + (float("0." + fraction) if fraction else 0.0)


# Set-up


def start_fake_api(args, processes):
    argv = [
        args.fake_api,
        "--listen=127.0.0.1:0",
        f"--fixtures={args.fixtures}",
        f"--token={API_TOKEN}",
        # A rate limit far above the demo's request rate, so that the fake API
        # sends X-RateLimit-Remaining and the panels reading it have data.
        "--rate=1000",
        "--burst=1000",
    ]
    fake_api = processes.start("fake-api", argv)

    def listening_port():
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", tail(fake_api.stdout_path, lines=50))
        return int(match.group(1)) if match else None

    port = wait_until("the fake API to print 'listening on 127.0.0.1:PORT'", listening_port,
                      processes, args.timeout)
    print(f"fake API (PID {fake_api.process.pid}) listens on 127.0.0.1:{port}", flush=True)
    return port


def start_exporter(args, processes, directory, api_port):
    # The exporter expands ${DEMO_API_URL} and ${DEMO_TOKEN} itself.
    config_path = os.path.join(directory, "exporter.yml")
    shutil.copyfile(args.config_template, config_path)
    port = free_port()
    argv = [args.exporter, f"--config.file={config_path}", f"--web.listen-address=127.0.0.1:{port}"]
    env = {"DEMO_API_URL": f"http://127.0.0.1:{api_port}/api/v2", "DEMO_TOKEN": API_TOKEN}
    processes.start("exporter", argv, env)

    def ready():
        status, _ = http_get(f"http://127.0.0.1:{port}/-/ready")
        return True if status == 200 else None

    wait_until("the exporter's /-/ready to return 200", ready, processes, args.timeout)
    return port


def start_prometheus(args, processes, directory, exporter_port):
    port = free_port()
    config_path = os.path.join(directory, "prometheus.yml")
    # JSON is valid YAML, so the config needs no YAML library.
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [os.path.abspath(args.rules)],
        "scrape_configs": [{
            "job_name": SCRAPE_JOB,
            "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
        }],
    }
    with open(config_path, "w", encoding="utf-8") as config_file:
        json.dump(config, config_file, indent=2)
    argv = [
        args.prometheus,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={os.path.join(directory, 'tsdb')}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    processes.start("prometheus", argv)

    def ready():
        status, _ = http_get(f"http://127.0.0.1:{port}/-/ready")
        return True if status == 200 else None

    wait_until("Prometheus's /-/ready to return 200", ready, processes, args.timeout)
    return Prometheus(port)


def wait_for_data(args, processes, prometheus):
    """Wait for three successful scrapes, then for two evaluations of every rule group.

    Three scrapes give rate() enough samples. Returns the rule groups of /api/v1/rules.
    """
    scrapes = f'sum_over_time(up{{job="{SCRAPE_JOB}"}}[1m])'

    def scraped():
        result, _ = prometheus.query(scrapes)
        if result and float(result[0]["value"][1]) >= 3:
            return True
        return None

    wait_until("three successful scrapes of the exporter", scraped, processes, args.timeout)
    data_since = time.time()

    def evaluated():
        groups = prometheus.rule_groups()
        if not groups:
            return None
        for group in groups:
            interval = float(group.get("interval", 1))
            if parse_rfc3339(group.get("lastEvaluation", "")) < data_since + interval:
                return None
        return groups

    return wait_until("two evaluations of every rule group", evaluated, processes, args.timeout)


# Checks


def check_dashboard_structure(dashboard, report):
    name = "dashboard structure"
    problems = []
    if dashboard.get("schemaVersion", 0) < 38:
        problems.append(f"schemaVersion {dashboard.get('schemaVersion')} is below 38")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    datasource = variables.get("datasource", {})
    if datasource.get("type") != "datasource" or datasource.get("query") != "prometheus":
        problems.append("no variable 'datasource' of type datasource with query prometheus")
    for required in ("project", "workflow", "branch", "window"):
        variable = variables.get(required, {})
        if variable.get("type") != "query" or not variable.get("multi") or not variable.get("includeAll"):
            problems.append(f"variable '{required}' is missing or not a multi-value query variable with All")
    if "success_threshold" not in variables:
        problems.append("variable 'success_threshold' is missing")
    seen_ids = set()
    for panel in walk_panels(dashboard.get("panels", [])):
        title = panel.get("title", "")
        if panel.get("id") in seen_ids:
            problems.append(f"panel id {panel.get('id')} is used twice")
        seen_ids.add(panel.get("id"))
        if panel.get("type") not in PANEL_TYPES:
            problems.append(f"panel '{title}' has the type {panel.get('type')}")
        for target in panel.get("targets", []):
            uid = target.get("datasource", panel.get("datasource", {})).get("uid")
            if uid != "${datasource}":
                problems.append(f"panel '{title}' target {target.get('refId')} uses datasource {uid}")
    if problems:
        for problem in problems:
            report.fail(name, problem)
    else:
        report.ok(name, f"{len(seen_ids)} panels")


def check_query(report, prometheus, name, expr, values, available):
    """Run one dashboard or variable query and record the outcome."""
    text, unknown = substitute(expr, values)
    if unknown:
        report.fail(name, "unknown variables " + ", ".join("$" + u for u in unknown), expr)
        return
    result, error = prometheus.query(text)
    if error:
        report.fail(name, f"query error: {error}", text)
        return
    if result:
        report.ok(name, f"{len(result)} series")
        return

    missing = metric_names(text) - available
    if missing:
        report.exempt(name, missing)
        return
    for variable, selecting_all in THRESHOLD_VARIABLES_SELECTING_ALL.items():
        if variable not in values or not re.search(r"\$\{?" + variable + r"\b", expr):
            continue
        retry_values = dict(values, **{variable: selecting_all})
        retry_text, _ = substitute(expr, retry_values)
        retry, error = prometheus.query(retry_text)
        if retry:
            report.ok(name, f"0 series at {variable}={values[variable]}, "
                            f"{len(retry)} series at {variable}={selecting_all}")
        else:
            report.fail(name, f"no series at {variable}={values[variable]} "
                              f"nor at {variable}={selecting_all}" + (f": {error}" if error else ""),
                        retry_text)
        return
    report.fail(name, "empty result, but /metrics has samples of every metric it reads", text)


def check_dashboard_queries(dashboard, report, prometheus, available):
    values = variable_values(dashboard)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        definition = variable.get("definition") or variable.get("query")
        if isinstance(definition, dict):
            definition = definition.get("query", "")
        match = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", definition or "")
        name = f"variable {variable['name']}"
        if not match:
            report.fail(name, f"cannot read the query {definition!r}: expected label_values(SELECTOR, LABEL)")
            continue
        selector, label = match.groups()
        check_query(report, prometheus, name, f"count by ({label}) ({selector})", values, available)

    for panel in walk_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if not expr:
                continue
            name = f"panel {panel.get('id')} \"{panel.get('title')}\" {target.get('refId', '?')}"
            check_query(report, prometheus, name, expr, values, available)


def rules_in_file(path):
    """Return the group, record and alert names written in a rules file, in order."""
    with open(path, encoding="utf-8") as rules_file:
        text = rules_file.read()
    groups = re.findall(r"^\s*-\s*name:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
    records = re.findall(r"^\s*-\s*record:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
    alerts = re.findall(r"^\s*-\s*alert:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
    return groups, records, alerts


def check_rules(args, groups, report, prometheus, served):
    """Check rule health and that every recording rule returns data.

    Returns the metric names that can have data: the sample names of
    /metrics and the recording rules that read only such names.
    """
    file_groups, file_records, file_alerts = rules_in_file(args.rules)
    loaded_groups = [group["name"] for group in groups]
    loaded_rules = [rule for group in groups for rule in group["rules"]]
    loaded_records = [rule["name"] for rule in loaded_rules if rule["type"] == "recording"]
    loaded_alerts = [rule["name"] for rule in loaded_rules if rule["type"] == "alerting"]
    for kind, written, loaded in (("groups", file_groups, loaded_groups),
                                  ("recording rules", file_records, loaded_records),
                                  ("alerting rules", file_alerts, loaded_alerts)):
        if sorted(written) == sorted(loaded):
            report.ok(f"loaded {kind}", f"{len(loaded)}, as in {os.path.basename(args.rules)}")
        else:
            report.fail(f"loaded {kind}", f"Prometheus loaded {sorted(loaded)}, the file has {sorted(written)}")

    available = set(served)
    for group in groups:
        for rule in group["rules"]:
            name = f"rule {group['name']}/{rule['name']}"
            if rule.get("health") != "ok":
                report.fail(name, f"health {rule.get('health')!r}: {rule.get('lastError', '')}", rule["query"])
                continue
            if rule["type"] == "alerting":
                report.ok(name, f"health ok, state {rule.get('state')}")
                continue
            if not metric_names(rule["query"]) - available:
                available.add(rule["name"])
            result, error = prometheus.query(rule["name"])
            if error:
                report.fail(name, f"query error: {error}", rule["name"])
            elif result:
                report.ok(name, f"health ok, {len(result)} series")
            else:
                missing = metric_names(rule["query"]) - available
                if missing:
                    report.exempt(name, missing)
                else:
                    report.fail(name, "health ok, but no series", rule["query"])

    return available


def run(args, directory, processes, report):
    with open(args.dashboard, encoding="utf-8") as dashboard_file:
        dashboard = json.load(dashboard_file)
    check_dashboard_structure(dashboard, report)

    api_port = start_fake_api(args, processes)
    exporter_port = start_exporter(args, processes, directory, api_port)
    prometheus = start_prometheus(args, processes, directory, exporter_port)
    groups = wait_for_data(args, processes, prometheus)

    status, exposition = http_get(f"http://127.0.0.1:{exporter_port}/metrics")
    if status != 200:
        raise SetupError(f"GET /metrics of the exporter returned {status}: {exposition[:200]}")
    served = sample_names(exposition)
    print(f"the exporter serves {len(served)} sample names", flush=True)

    available = check_rules(args, groups, report, prometheus, served)
    check_dashboard_queries(dashboard, report, prometheus, available)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporter", required=True, help="path of the circleci-insights-exporter binary")
    parser.add_argument("--fake-api", required=True, help="path of the fake-circleci-api binary")
    parser.add_argument("--fixtures", required=True, help="folder of recorded API responses for the fake API")
    parser.add_argument("--config-template", required=True,
                        help="exporter config that reads ${DEMO_API_URL} and ${DEMO_TOKEN}")
    parser.add_argument("--rules", required=True, help="Prometheus rules file to load")
    parser.add_argument("--dashboard", required=True, help="Grafana dashboard JSON file")
    parser.add_argument("--prometheus", default="prometheus", help="Prometheus binary (default: from PATH)")
    parser.add_argument("--timeout", type=float, default=60,
                        help="maximum seconds for each wait (default: 60)")
    parser.add_argument("--keep-temp", action="store_true",
                        help="keep the temporary folder with configs, logs and TSDB")
    args = parser.parse_args()
    for name in ("exporter", "fake_api", "fixtures", "config_template", "rules", "dashboard"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    return args


def main():
    args = parse_arguments()
    # Turn SIGTERM into SystemExit so that the finally block stops the processes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    directory = tempfile.mkdtemp(prefix="test_prometheus.")
    processes = Processes(directory)
    report = Report()
    try:
        run(args, directory, processes, report)
    except SetupError as error:
        report.fail("set-up", str(error))
    finally:
        if report.failed:
            processes.print_logs()
        processes.stop_all()
        if args.keep_temp:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    if report.exemptions:
        print("Exempt from the data check, because the exporter serves no samples of these metrics:")
        for exemption in report.exemptions:
            print(f"  {exemption}")
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
