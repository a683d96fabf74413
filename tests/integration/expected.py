# SPDX-License-Identifier: MIT
"""Compute the CircleCI samples the exporter should serve, from fixtures.

This is a model of the exporter written independently of its C code. It
reads the fake API's routes.json and response files directly and follows
pagination. Then it applies the metric rules: an absent or null field gives
no sample, integers are printed exactly, and reals in their shortest
round-trip form. ISO timestamps become Unix seconds with the milliseconds as
a fraction. Values are returned as the exact text the exporter must print.
"""

import calendar
import json
import os
import re
import urllib.parse

# The projects of config/demo.yml: (slug, branches, windows). branches is
# [] for the default branch, ["*"] for all branches together, else names.
DEMO_PROJECTS = [
    ("gh/CircleCI-Public/api-preview-docs", [],
     ["last-24-hours", "last-7-days", "last-30-days"]),
    ("circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/"
     "4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57", ["main", "release/2.0"],
     ["last-24-hours", "last-7-days"]),
    ("bb/acme/billing", ["*"], ["last-7-days"]),
    ("gh/acme/empty", [], ["last-7-days"]),
]

DEMO_SLUGS = [p[0] for p in DEMO_PROJECTS]

# The project that returns 404 in the demo fixtures.
GONE_SLUG = "gh/acme/gone"

# Metric suffix -> path of the field under an item of /workflows or /jobs.
SUMMARY_FIELDS = [
    ("runs", ("metrics", "total_runs")),
    ("successful_runs", ("metrics", "successful_runs")),
    ("failed_runs", ("metrics", "failed_runs")),
    ("success_ratio", ("metrics", "success_rate")),
    ("throughput_runs_per_day", ("metrics", "throughput")),
    ("mttr_seconds", ("metrics", "mttr")),
    ("recoveries", ("metrics", "total_recoveries")),
    ("duration_min_seconds", ("metrics", "duration_metrics", "min")),
    ("duration_median_seconds", ("metrics", "duration_metrics", "median")),
    ("duration_mean_seconds", ("metrics", "duration_metrics", "mean")),
    ("duration_p95_seconds", ("metrics", "duration_metrics", "p95")),
    ("duration_max_seconds", ("metrics", "duration_metrics", "max")),
    ("duration_stddev_seconds",
     ("metrics", "duration_metrics", "standard_deviation")),
    ("credits_used", ("metrics", "total_credits_used")),
]
TIMESTAMP_FIELDS = [
    ("window_start_timestamp_seconds", "window_start"),
    ("window_end_timestamp_seconds", "window_end"),
]
# The jobs endpoint has no mttr or recoveries.
JOB_SKIPPED = ("mttr_seconds", "recoveries")

RUN_STATUSES = ("success", "failed", "error", "canceled", "unauthorized")


def is_circleci_metric(name):
    """Return True for a family of CircleCI data (circleci_workflow_*,
    circleci_job_*, circleci_project_info and any other circleci_*), False
    for the exporter's own circleci_exporter_* and process_* metrics."""
    return name.startswith("circleci_") and \
        not name.startswith("circleci_exporter_")


def circleci_only(samples):
    """The entries of a harness.parse_samples() dict of CircleCI series."""
    return {k: v for k, v in samples.items() if is_circleci_metric(k[0])}


# Value formatting


def number_text(value):
    """The text of a JSON number as the exporter prints it: integers
    exactly, integral reals without a fraction (3489.0 -> '3489'), other
    reals in their shortest round-trip form (Python's repr)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("not a JSON number: %r" % (value,))
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(value)


_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                  r"(Z|[+-]\d\d:\d\d)$")


def iso_seconds(text):
    """Unix seconds of an ISO 8601 timestamp, as (whole, fraction digits)."""
    m = _ISO.match(text)
    if not m:
        raise ValueError("not an ISO 8601 timestamp: %r" % text)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    whole = calendar.timegm((year, month, day, hour, minute, second))
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        whole -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return whole, (m.group(7) or "")


def timestamp_text(text):
    """The Unix seconds of an ISO timestamp, printed as the exporter must:
    the float nearest to the decimal value, in shortest round-trip form
    ('2020-01-21T23:09:13.953Z' -> '1579648153.953')."""
    whole, fraction = iso_seconds(text)
    value = float("%d.%s" % (whole, fraction or "0"))
    return number_text(value)


def timestamp_sort_key(text):
    whole, fraction = iso_seconds(text)
    return (whole, float("0." + (fraction or "0")))


# Fixtures


class Fixtures:
    """The routes of one fixture directory of the fake API."""

    def __init__(self, directory):
        self.directory = directory
        with open(os.path.join(directory, "routes.json"),
                  encoding="utf-8") as f:
            routes = json.load(f)
        self.routes = {}
        for route in routes:
            key = (route["path"], frozenset(route["query"].items()))
            if key in self.routes:
                raise ValueError("duplicate route %r" % (key,))
            self.routes[key] = route

    def _load(self, name):
        with open(os.path.join(self.directory, name), encoding="utf-8") as f:
            return json.load(f)

    def response(self, path, query):
        """(status, body) for a raw path under /api/v2 and decoded query
        parameters; the items of every page are joined into one body."""
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


def _field(item, path):
    for key in path:
        if not isinstance(item, dict) or item.get(key) is None:
            return None
        item = item[key]
    return item


def _branch_targets(branches, default_branch):
    """(query parameters, branch label) for each configured branch."""
    if not branches:
        return [({}, default_branch)]
    targets = []
    for branch in branches:
        if branch == "*":
            targets.append(({"all-branches": "true"}, "*"))
        elif "*" in branch:
            raise NotImplementedError("branch globs are not modelled: %r"
                                      % branch)
        else:
            targets.append(({"branch": branch}, branch))
    return targets


def _summary_samples(out, prefix, item, labels, skipped=()):
    for suffix, path in SUMMARY_FIELDS:
        if suffix in skipped:
            continue
        value = _field(item, path)
        if value is not None:
            out[(prefix + suffix, frozenset(labels.items()))] = \
                number_text(value)
    for suffix, field in TIMESTAMP_FIELDS:
        value = item.get(field)
        if value is not None:
            out[(prefix + suffix, frozenset(labels.items()))] = \
                timestamp_text(value)


def _newest_finished(runs):
    finished = [r for r in runs if r.get("status") is not None
                and r.get("created_at") is not None]
    if not finished:
        return None
    return max(finished, key=lambda r: timestamp_sort_key(r["created_at"]))


def _last_run_samples(out, run, labels):
    key_labels = frozenset(labels.items())
    for status in RUN_STATUSES:
        status_labels = dict(labels, status=status)
        out[("circleci_workflow_last_run_status",
             frozenset(status_labels.items()))] = \
            "1" if run["status"] == status else "0"
    if run.get("duration") is not None:
        out[("circleci_workflow_last_run_duration_seconds", key_labels)] = \
            number_text(run["duration"])
    if run.get("credits_used") is not None:
        out[("circleci_workflow_last_run_credits_used", key_labels)] = \
            number_text(run["credits_used"])
    stamp = run.get("stopped_at") or run.get("created_at")
    out[("circleci_workflow_last_run_timestamp_seconds", key_labels)] = \
        timestamp_text(stamp)


def quote_name(name):
    """Percent-encode a path segment as curl_easy_escape does."""
    return urllib.parse.quote(name, safe="")


def project_samples(fixtures, slug, branches, windows):
    """The expected CircleCI samples of one project: {key: value text}."""
    out = {}
    status, project = fixtures.response("/project/" + slug, {})
    if status != 200:
        return out
    default_branch = project["vcs_info"]["default_branch"]
    out[("circleci_project_info",
         frozenset({"project": slug,
                    "default_branch": default_branch}.items()))] = "1"

    base = "/insights/" + slug + "/workflows"
    for params, label in _branch_targets(branches, default_branch):
        workflows = []
        for window in windows:
            query = dict(params, **{"reporting-window": window})
            status, body = fixtures.response(base, query)
            if status != 200:
                continue
            for item in body["items"]:
                name = item["name"]
                if name not in workflows:
                    workflows.append(name)
                labels = {"project": slug, "workflow": name, "branch": label,
                          "window": window}
                _summary_samples(out, "circleci_workflow_", item, labels)
                status, jobs = fixtures.response(
                    base + "/" + quote_name(name) + "/jobs", query)
                if status != 200:
                    continue
                for job in jobs["items"]:
                    job_labels = dict(labels, job_name=job["name"])
                    _summary_samples(out, "circleci_job_", job, job_labels,
                                     JOB_SKIPPED)
        for name in workflows:
            status, runs = fixtures.response(base + "/" + quote_name(name),
                                           params)
            if status != 200:
                continue
            run = _newest_finished(runs["items"])
            if run is not None:
                _last_run_samples(out, run, {"project": slug,
                                             "workflow": name,
                                             "branch": label})
    return out


def expected_samples(fixtures_dir, projects=DEMO_PROJECTS):
    """The expected CircleCI samples of all projects: {key: value text},
    keys as harness.parse_samples() makes them."""
    fixtures = Fixtures(fixtures_dir)
    out = {}
    for slug, branches, windows in projects:
        out.update(project_samples(fixtures, slug, branches, windows))
    return out
