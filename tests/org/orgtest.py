# SPDX-License-Identifier: MIT
"""Shared helpers of the organization tests.

The tests start the fake CircleCI API on the demo fixtures and the real
exporter, both on 127.0.0.1, through tests/integration/harness.py. This
module adds config writing, promtool, and an independent model of the
series the exporter serves for organizations, flaky tests, trends and test
metrics, computed from the fixture files.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import expected  # noqa: E402
import harness  # noqa: E402

ORG = "gh/acme"
WINDOWS = ["last-7-days", "last-30-days"]
# The projects of the organization's all_projects, as slugs.
ALL_PROJECTS = ["gh/acme/api", "gh/acme/web", "gh/acme/billing-legacy",
                "gh/acme/empty", "gh/acme/gone"]
GONE = "gh/acme/gone"

ORG_FIELDS = [
    ("circleci_org_runs", "total_runs"),
    ("circleci_org_success_ratio", "success_rate"),
    ("circleci_org_throughput_runs_per_day", "throughput"),
    ("circleci_org_total_duration_seconds", "total_duration_secs"),
    ("circleci_org_credits_used", "total_credits_used"),
]
ORG_PROJECT_FIELDS = [
    ("circleci_project_runs", "total_runs"),
    ("circleci_project_success_ratio", "success_rate"),
    ("circleci_project_total_duration_seconds", "total_duration_secs"),
    ("circleci_project_credits_used", "total_credits_used"),
]
TREND_FIELDS = ["total_runs", "failed_runs", "success_rate",
                "p95_duration_secs", "median_duration_secs",
                "total_credits_used", "mttr", "throughput"]
ORG_FAMILIES = tuple(name for name, _ in ORG_FIELDS + ORG_PROJECT_FIELDS)
FLAKY_FAMILIES = ("circleci_project_flaky_tests", "circleci_test_flaky_runs",
                  "circleci_test_flaky_time_wasted_seconds")
TREND_FAMILIES = tuple("circleci_workflow_trend_" + f for f in TREND_FIELDS)
TEST_METRIC_FAMILIES = ("circleci_workflow_test_runs",
                        "circleci_workflow_tests_per_run",
                        "circleci_workflow_most_failed_tests",
                        "circleci_workflow_slowest_tests")


class Fixtures:
    """The responses of the demo fixtures, read from routes.json."""

    def __init__(self, directory):
        self.directory = directory
        with open(os.path.join(directory, "routes.json"),
                  encoding="utf-8") as f:
            self.routes = {(r["path"], frozenset(r["query"].items())): r
                           for r in json.load(f)}

    def response(self, path, query):
        """(status, body) of a raw path under /api/v2 and its decoded
        query parameters. The pages of a paged response are joined into
        one body."""
        route = self.routes.get((path, frozenset(query.items())))
        if route is None:
            return 404, {"message": "Not found."}
        status = route.get("status", 200)
        if "pages" in route:
            items = []
            for name in route["pages"]:
                items += self._load(name)["items"]
            return status, {"next_page_token": None, "items": items}
        if "file" in route:
            return status, self._load(route["file"])
        return status, route.get("body")

    def _load(self, name):
        with open(os.path.join(self.directory, name), encoding="utf-8") as f:
            return json.load(f)


def fixtures():
    """The demo fixtures, for this module's model."""
    return Fixtures(harness.fixtures_dir())


def project_samples(slug, branches, windows):
    """The workflow, job, last-run and project_info series of a project,
    from tests/integration/expected.py's model."""
    return expected.project_samples(expected.Fixtures(harness.fixtures_dir()),
                                    slug, branches, windows)


def key(name, **labels):
    return (name, frozenset(labels.items()))


# Configs


def write_config(workdir, api, body, name="config.yml"):
    """Write a config for the fake API: the circleci section, then body
    (YAML text with the top-level keys of the test)."""
    text = ("circleci:\n"
            "  url: %s\n"
            "  token: %s\n"
            "  timeout: 10s\n"
            "  max_retries: 1\n"
            "  rate_limit:\n"
            "    requests_per_second: 200\n"
            "    burst: 100\n"
            "defaults:\n"
            "  interval: 1h\n" % (api.api_url, harness.FAKE_API_TOKEN)) + body
    return harness.write_file(os.path.join(workdir, name), text)


def start(owner, config_body, name="exporter"):
    """Start a fake API and an exporter with config_body; wait until ready.
    Returns (api, exporter)."""
    workdir = harness.temp_dir(owner)
    api = harness.start_fake_api(owner, workdir)
    config = write_config(workdir, api, config_body)
    exporter = harness.start_exporter(owner, workdir, config, name=name)
    exporter.wait_ready()
    return api, exporter


# Checks


def promtool_problems(text):
    """What `promtool check metrics` prints for text, with its status;
    None when it prints nothing and exits 0."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return "promtool not found on PATH (Debian package prometheus)"
    result = subprocess.run([promtool, "check", "metrics"], input=text,
                            capture_output=True, encoding="utf-8",
                            timeout=60)
    if result.returncode == 0 and not result.stdout and not result.stderr:
        return None
    return "status %d: %s%s" % (result.returncode, result.stdout,
                                result.stderr)


def split_families(text):
    """Family names in order of appearance, one entry per run of lines of
    the same family; a family listed twice is not contiguous."""
    runs, current = [], None
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            family = line.split(" ")[2]
        elif line.startswith("#") or not line:
            continue
        else:
            name = line.split("{")[0].split(" ")[0]
            family = current if current and name.startswith(current) else name
        if family != current:
            runs.append(family)
            current = family
    return [name for name in set(runs) if runs.count(name) > 1]


def repeated_requests(log):
    """The (path, query) pairs requested more than once."""
    seen, repeated = set(), set()
    for entry in log:
        pair = (entry["path"], entry["query"])
        if pair in seen:
            repeated.add(pair)
        seen.add(pair)
    return sorted(repeated)


def requested_paths(log):
    return [entry["path"] for entry in log]


def project_up(samples):
    """project label -> value of circleci_exporter_project_up."""
    return {dict(k[1])["project"]: v for k, v in samples.items()
            if k[0] == "circleci_exporter_project_up"}


def of_families(samples, names):
    return {k: v for k, v in samples.items() if k[0] in names}


# The model


def org_samples(fx, org=ORG, windows=WINDOWS):
    """org_* and project_* series of the organization summary."""
    out = {}
    for window in windows:
        status, body = fx.response("/insights/%s/summary" % org,
                                 {"reporting-window": window})
        assert status == 200, "no summary fixture for %s %s" % (org, window)
        metrics = body["org_data"]["metrics"]
        for name, field in ORG_FIELDS:
            if metrics.get(field) is not None:
                out[key(name, org=org, window=window)] = \
                    expected.number_text(metrics[field])
        for item in body["org_project_data"]:
            project = "%s/%s" % (org, item["project_name"])
            for name, field in ORG_PROJECT_FIELDS:
                value = item["metrics"].get(field)
                if value is not None:
                    out[key(name, org=org, project=project, window=window)] = \
                        expected.number_text(value)
    return out


def _either(item, name):
    value = item.get(name)
    if value is None:
        value = item.get(name.replace("_", "-"))
    return value


def flaky_tests(fx, slug):
    """(total, tests) of a project's flaky tests, as the fixture has them:
    tests as dicts with underscore keys."""
    status, body = fx.response("/insights/%s/flaky-tests" % slug, {})
    assert status == 200, "no flaky tests fixture for %s" % slug
    tests = []
    for t in _either(body, "flaky_tests"):
        tests.append({"test_name": _either(t, "test_name"),
                      "classname": t.get("classname") or "",
                      "workflow_name": _either(t, "workflow_name") or "",
                      "job_name": _either(t, "job_name") or "",
                      "times_flaked": _either(t, "times_flaked"),
                      "time_wasted": _either(t, "time_wasted")})
    return _either(body, "total_flaky_tests"), tests


def flaky_samples(fx, slug, cap):
    """The flaky test series of a project, and the test names in the order
    the exporter must list them: most flaky first, repeats dropped, at most
    cap tests."""
    total, tests = flaky_tests(fx, slug)
    out = {key("circleci_project_flaky_tests", project=slug):
           expected.number_text(total)}
    best = {}
    for t in tests:
        labels = (t["workflow_name"], t["job_name"], t["test_name"],
                  t["classname"])
        rank = (t["times_flaked"], t["time_wasted"])
        if labels not in best or rank > best[labels][0]:
            best[labels] = (rank, t)
    ordered = sorted(best.values(), key=lambda rt: (-rt[0][0], -rt[0][1],
                                                    rt[1]["test_name"],
                                                    rt[1]["classname"]))
    order = []
    for _rank, t in ordered[:cap]:
        labels = {"project": slug, "workflow": t["workflow_name"],
                  "job_name": t["job_name"], "test_name": t["test_name"],
                  "classname": t["classname"]}
        out[key("circleci_test_flaky_runs", **labels)] = \
            expected.number_text(t["times_flaked"])
        out[key("circleci_test_flaky_time_wasted_seconds", **labels)] = \
            expected.number_text(t["time_wasted"])
        order.append(t["test_name"])
    return out, order


def workflows_of(fx, slug, windows, params=None):
    """The workflow names of a project over windows (default branch)."""
    names = []
    for window in windows:
        query = dict(params or {}, **{"reporting-window": window})
        status, body = fx.response("/insights/%s/workflows" % slug, query)
        if status != 200:
            continue
        for item in body["items"]:
            if item["name"] not in names:
                names.append(item["name"])
    return names


def default_branch(fx, slug):
    status, body = fx.response("/project/" + slug, {})
    return body["vcs_info"]["default_branch"] if status == 200 else None


def trend_samples(fx, slug, windows):
    out = {}
    branch = default_branch(fx, slug)
    for wf in workflows_of(fx, slug, windows):
        path = "/insights/%s/workflows/%s/summary" % (
            slug, expected.quote_name(wf))
        status, body = fx.response(path, {})
        assert status == 200, "no summary fixture for %s %s" % (slug, wf)
        for field in TREND_FIELDS:
            value = (body.get("trends") or {}).get(field)
            if value is not None:
                out[key("circleci_workflow_trend_" + field, project=slug,
                        workflow=wf, branch=branch)] = \
                    expected.number_text(value)
    return out


def test_metric_samples(fx, slug, windows):
    out = {}
    branch = default_branch(fx, slug)
    for wf in workflows_of(fx, slug, windows):
        path = "/insights/%s/workflows/%s/test-metrics" % (
            slug, expected.quote_name(wf))
        status, body = fx.response(path, {})
        assert status == 200, "no test metrics fixture for %s %s" % (slug, wf)
        labels = {"project": slug, "workflow": wf, "branch": branch}
        values = {
            "circleci_workflow_test_runs": body.get("total_test_runs"),
            "circleci_workflow_tests_per_run": body.get("average_test_count"),
            "circleci_workflow_most_failed_tests":
                len(body["most_failed_tests"]) +
                (body.get("most_failed_tests_extra") or 0),
            "circleci_workflow_slowest_tests":
                len(body["slowest_tests"]) +
                (body.get("slowest_tests_extra") or 0),
        }
        for name, value in values.items():
            if value is not None:
                out[key(name, **labels)] = expected.number_text(value)
    return out


def is_project_family(name):
    """Return True for the families of expected.project_samples(): the
    workflow, job and last-run families and circleci_project_info, not the
    trend and test metric families that share the circleci_workflow_
    prefix."""
    if name in TREND_FAMILIES or name in TEST_METRIC_FAMILIES:
        return False
    return name.startswith(("circleci_workflow_", "circleci_job_")) or \
        name == "circleci_project_info"


def circleci_samples(samples):
    """The series of CircleCI data: every family except the exporter's own."""
    return {k: v for k, v in samples.items()
            if k[0].startswith("circleci_") and
            not k[0].startswith("circleci_exporter_")}
