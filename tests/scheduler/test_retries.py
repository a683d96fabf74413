# SPDX-License-Identifier: MIT
"""Failed requests are retried, client errors are not, and concurrency is
capped.

A 500, a timeout, a dropped connection, a truncated body, a 429 with the
body "Rate limited." and an HTML page served with status 200 are each
retried until the response is good. The values then equal those of a run
without faults, and the retry counters match the fake API's request log. A
404 is not retried: one request per refresh, one warning, the other
projects unaffected. With max_concurrency 3 and every response delayed by
1 s, at most 3 requests overlap.
"""

import os
import unittest

import schedharness as h

DOCS_WORKFLOWS = "^/insights/gh/CircleCI-Public/api-preview-docs/workflows$"
PAYMENTS_WORKFLOWS = "^/insights/circleci/[^/]+/[^/]+/workflows$"
BILLING_WORKFLOWS = "^/insights/bb/acme/billing/workflows$"
EMPTY_PROJECT = "^/project/gh/acme/empty$"
EMPTY_WORKFLOWS = "^/insights/gh/acme/empty/workflows$"
DOCS_BUILD_JOBS = \
    "^/insights/gh/CircleCI-Public/api-preview-docs/workflows/build/jobs$"
BILLING_CI_RUNS = "^/insights/bb/acme/billing/workflows/ci$"

TIMEOUT = 2
DELAY_MS = 6000

# One rule per kind of failure, each on its own request. The expected
# retries per endpoint follow from the counts.
#
# The dropped connection hits a project request: those are the first
# requests, so each goes over a new connection. libcurl itself repeats a
# request once when a reused keep-alive connection closes before any
# response, and the exporter would not see that drop at all.
FAULTS = [
    {"path_regex": DOCS_WORKFLOWS, "count": 2, "status": 500,
     "body": {"message": "Internal Server Error"}},
    {"path_regex": PAYMENTS_WORKFLOWS, "count": 1, "delay_ms": DELAY_MS},
    {"path_regex": EMPTY_PROJECT, "count": 1, "drop": True},
    {"path_regex": EMPTY_WORKFLOWS, "count": 1, "truncate": 20},
    {"path_regex": DOCS_BUILD_JOBS, "count": 1, "garbage": True},
    {"path_regex": BILLING_CI_RUNS, "count": 1, "status": 429,
     "body": "Rate limited.", "headers": {"Retry-After": "1"}},
]
EXPECTED_RETRIES = {"project": 1, "workflows": 4, "jobs": 1, "runs": 1}
# Failures with no HTTP status on the exporter's side: the dropped
# connection, the timeout and the truncated body.
EXPECTED_TRANSPORT_ERRORS = {"project": 1, "workflows": 2}


class RetriesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.reference = h.reference_series(h.class_temp_dir(cls),
                                           h.demo_fixtures(),
                                           h.DEMO_PROJECTS)

    def test_failed_attempts_are_retried(self):
        workdir = h.temp_dir(self)
        api = h.start_fake_api(self, workdir, h.demo_fixtures())
        api.set_faults(FAULTS)
        exporter = h.start_exporter(self, workdir, h.config_text(
            api.url, h.DEMO_PROJECTS, interval="300s",
            timeout="%ds" % TIMEOUT, max_retries=3))
        exporter.wait_ready()
        exporter.wait_all_up([p["slug"] for p in h.DEMO_PROJECTS])

        for rule in api.faults():
            self.assertEqual(0, rule["count"],
                             "remaining count of fault rule %s: expected 0, "
                             "seen %d" % (rule["path_regex"], rule["count"]))

        # The fake API logs the delayed request once its delay is over.
        def complete_log():
            samples = exporter.scrape()
            counted = sum(h.select(samples,
                                   "circleci_exporter_api_requests_total")
                          .values())
            log = api.requests()
            delayed = [e for e in log if e["fault"] == "delay"]
            if delayed and len(log) >= counted:
                return log, samples
            return None

        log, samples = h.wait_until(
            complete_log, "the request log to hold every request the "
            "exporter counted", timeout=h.WAIT_TIMEOUT + DELAY_MS / 1000)

        counted = sum(h.select(
            samples, "circleci_exporter_api_requests_total").values())
        self.assertEqual(len(log), counted,
                         "circleci_exporter_api_requests_total summed: "
                         "expected the %d requests of the log, seen %r"
                         % (len(log), counted))
        seen = h.circleci_series(samples)
        h.assert_same_series(self, self.reference, seen,
                             "CircleCI series after the retries, compared "
                             "with a run without faults")

        for endpoint, want in EXPECTED_RETRIES.items():
            got = h.value_of(samples, "circleci_exporter_api_retries_total",
                             endpoint=endpoint)
            self.assertEqual(want, got,
                             "circleci_exporter_api_retries_total{endpoint="
                             "\"%s\"}: expected %r, seen %r"
                             % (endpoint, want, got))

        # Each repeated URL in the log is one retry.
        repeats = {}
        urls = {}
        for e in log:
            urls.setdefault(h.request_url(e), []).append(e)
        for url, entries in urls.items():
            endpoint = h.endpoint_of(entries[0])
            repeats[endpoint] = repeats.get(endpoint, 0) + len(entries) - 1
            self.assertEqual(
                (200, None), (entries[-1]["status"], entries[-1]["fault"]),
                "last response to %s: expected status 200 without a fault, "
                "seen %r" % (url, entries[-1]))
        for endpoint, want in EXPECTED_RETRIES.items():
            self.assertEqual(want, repeats.get(endpoint, 0),
                             "repeated %s requests in the request log: "
                             "expected %d, seen %d"
                             % (endpoint, want, repeats.get(endpoint, 0)))

        for endpoint, want in EXPECTED_TRANSPORT_ERRORS.items():
            got = h.value_of(samples, "circleci_exporter_api_requests_total",
                             endpoint=endpoint, code="error")
            self.assertEqual(want, got,
                             "circleci_exporter_api_requests_total{endpoint="
                             "\"%s\",code=\"error\"}: expected %r, seen %r"
                             % (endpoint, want, got))
        checks = [
            ("circleci_exporter_api_requests_total",
             {"endpoint": "workflows", "code": "500"}, 2),
            ("circleci_exporter_api_requests_total",
             {"endpoint": "runs", "code": "429"}, 1),
            ("circleci_exporter_api_parse_errors_total",
             {"endpoint": "jobs"}, 1),
            ("circleci_exporter_api_rate_limited_total", {}, 1),
        ]
        for name, labels, want in checks:
            got = h.value_of(samples, name, **labels)
            self.assertEqual(want, got, "%s%r: expected %r, seen %r"
                             % (name, labels, want, got))

    def test_not_found_is_not_retried(self):
        workdir = h.temp_dir(self)
        api = h.start_fake_api(self, workdir, h.demo_fixtures())
        api.set_faults([{"path_regex": BILLING_WORKFLOWS, "status": 404,
                         "body": {"message": "Project not found"}}])
        exporter = h.start_exporter(self, workdir, h.config_text(
            api.url, h.DEMO_PROJECTS, interval="4s", max_retries=3))
        exporter.wait_ready()

        # Three refreshes of the project without faults; the other ones
        # refresh on the same interval.
        def refreshes(log, slug):
            return [e for e in log if h.is_workflows_request(e, slug)]

        log = api.wait_requests(
            lambda log: len(refreshes(log, h.EMPTY_SLUG)) >= 3,
            "three refreshes of %s" % h.EMPTY_SLUG)
        failing = refreshes(log, h.BILLING_SLUG)
        healthy = refreshes(log, h.EMPTY_SLUG)
        self.assertGreaterEqual(len(failing), 2,
                                "requests that got 404: expected one in each "
                                "of at least 2 refreshes, seen %d"
                                % len(failing))
        self.assertLessEqual(
            len(failing), len(healthy) + 1,
            "requests that got 404: expected one per refresh (%d refreshes "
            "of the other projects so far), seen %d"
            % (len(healthy), len(failing)))
        self.assertEqual([404] * len(failing), [e["status"] for e in failing],
                         "statuses of %s's workflows requests"
                         % h.BILLING_SLUG)

        samples = exporter.scrape()
        self.assertEqual(0, h.value_of(samples,
                                       "circleci_exporter_api_retries_total",
                                       endpoint="workflows"),
                         "circleci_exporter_api_retries_total{endpoint="
                         "\"workflows\"}")
        for p in h.DEMO_PROJECTS:
            want = 0 if p["slug"] == h.BILLING_SLUG else 1
            got = h.value_of(samples, "circleci_exporter_project_up",
                             project=p["slug"])
            self.assertEqual(want, got,
                             "circleci_exporter_project_up{project=\"%s\"}: "
                             "expected %d, seen %r" % (p["slug"], want, got))

        warnings = exporter.log_lines(r"project=%s\b.*\bstatus=404"
                                      % h.BILLING_SLUG)
        self.assertEqual(1, len(warnings),
                         "log lines about the 404: expected 1 (logged once "
                         "per project), seen %d:\n%s"
                         % (len(warnings), "\n".join(warnings)))
        self.assertIn("level=warn", warnings[0], "level of the 404 line")
        self.assertIn("Project not found", warnings[0],
                      "the API's message in the 404 line")

        others = {k: v for k, v in self.reference.items()
                  if dict(k[1]).get("project") != h.BILLING_SLUG}
        seen = {k: v for k, v in h.circleci_series(samples).items()
                if dict(k[1]).get("project") != h.BILLING_SLUG}
        h.assert_same_series(self, others, seen,
                             "series of the projects without faults")

    def test_concurrency_is_capped(self):
        max_concurrency = 3
        delay = 1.0
        workdir = h.temp_dir(self)
        fixtures = os.path.join(workdir, "fixtures")
        slugs = h.generate_fixtures(fixtures, 6, workflows=("build",))
        api = h.start_fake_api(self, workdir, fixtures)
        api.set_faults([{"path_prefix": "/", "delay_ms": int(delay * 1000)}])
        exporter = h.start_exporter(self, workdir, h.config_text(
            api.url, h.generated_projects(slugs), interval="300s",
            max_concurrency=max_concurrency, jobs=False, last_runs=False))
        exporter.wait_ready()
        exporter.wait_all_up(slugs)

        expected = 2 * len(slugs)
        log = api.wait_requests(lambda log: len(log) >= expected,
                                "%d requests in the log" % expected)
        # Every response takes at least delay seconds, so [t, t + delay)
        # lies inside the time the request was in flight.
        overlap = h.max_overlap([e["t"] for e in log], delay * 0.95)
        self.assertLessEqual(overlap, max_concurrency,
                             "requests in flight at once: expected at most "
                             "max_concurrency %d, seen %d"
                             % (max_concurrency, overlap))
        self.assertGreaterEqual(overlap, 2,
                                "requests in flight at once: expected at "
                                "least 2 at some point, seen %d" % overlap)


if __name__ == "__main__":
    h.main()
