# SPDX-License-Identifier: MIT
"""The opt-in families: flaky tests (both key spellings, the cap, most
flaky first), workflow trends and test metrics, each only when enabled."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orgtest  # noqa: E402
from orgtest import harness  # noqa: E402

FLAKY_CAP = 3

ALL_ON_CONFIG = """\
limits:
  max_flaky_tests_per_project: %d
organizations:
  - slug: gh/acme
    discover_projects: true
    include: "^(api|web|empty)$"
    windows: [last-7-days, last-30-days]
    flaky_tests: true
    trends: true
    test_metrics: true
""" % FLAKY_CAP

PER_PROJECT_CONFIG = """\
projects:
  - slug: gh/acme/api
    trends: true
  - slug: gh/acme/web
    test_metrics: true
"""

SLUGS = ("gh/acme/api", "gh/acme/web", "gh/acme/empty")
WINDOWS = ["last-7-days", "last-30-days"]


class AllEnabledTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, ALL_ON_CONFIG)
        cls.text = cls.exporter.scrape_text()
        cls.samples = harness.parse_samples(cls.text, as_text=True)
        cls.log = cls.api.request_log()

    def setUp(self):
        self.fx = orgtest.fixtures()

    def test_projects_up(self):
        up = orgtest.project_up(self.samples)
        self.assertEqual(up, {slug: "1" for slug in SLUGS})

    def test_flaky_values_exact(self):
        want = {}
        for slug in SLUGS:
            want.update(orgtest.flaky_samples(self.fx, slug, FLAKY_CAP)[0])
        seen = orgtest.of_families(self.samples, orgtest.FLAKY_FAMILIES)
        for k in sorted(set(want) | set(seen)):
            with self.subTest(series=harness.format_key(k)):
                self.assertEqual(seen.get(k), want.get(k))

    def test_flaky_underscore_keys_capped_in_order(self):
        _want, order = orgtest.flaky_samples(self.fx, "gh/acme/api", FLAKY_CAP)
        seen = [dict(s.labels)["test_name"]
                for s in harness.parse_exposition(self.text).samples
                if s.name == "circleci_test_flaky_runs" and
                s.labels["project"] == "gh/acme/api"]
        self.assertEqual(order, ["test_refund_race",
                                 "test_create_order_timeout",
                                 "test_login_rate_limit"])
        self.assertEqual(seen, order)

    def test_flaky_hyphen_keys_and_null_classname(self):
        labels = {"project": "gh/acme/web", "workflow": "ci",
                  "job_name": "e2e", "test_name": "renders checkout page",
                  "classname": ""}
        self.assertEqual(harness.value_of(self.samples,
                                          "circleci_test_flaky_runs",
                                          **labels), "5")
        self.assertEqual(harness.value_of(self.samples,
                                          "circleci_project_flaky_tests",
                                          project="gh/acme/web"), "3")

    def test_flaky_cap_counted(self):
        self.assertEqual(harness.value_of(
            self.samples, "circleci_exporter_limit_hits_total",
            limit="max_flaky_tests_per_project"), "1")

    def test_trend_values_exact(self):
        want = {}
        for slug in SLUGS:
            want.update(orgtest.trend_samples(self.fx, slug, WINDOWS))
        seen = orgtest.of_families(self.samples, orgtest.TREND_FAMILIES)
        self.assertGreater(len(want), 15)
        self.assertEqual(seen, want)

    def test_null_and_absent_trend_give_no_sample(self):
        for field in ("mttr", "failed_runs"):
            self.assertIsNone(harness.value_of(
                self.samples, "circleci_workflow_trend_" + field,
                project="gh/acme/web", workflow="ci", branch="main"))

    def test_test_metric_values_exact(self):
        want = {}
        for slug in SLUGS:
            want.update(orgtest.test_metric_samples(self.fx, slug, WINDOWS))
        seen = orgtest.of_families(self.samples, orgtest.TEST_METRIC_FAMILIES)
        self.assertGreater(len(want), 10)
        self.assertEqual(seen, want)

    def test_requests_once_per_workflow_not_per_window(self):
        self.assertEqual(orgtest.repeated_requests(self.log), [])
        paths = orgtest.requested_paths(self.log)
        for path in ("/api/v2/insights/gh/acme/api/workflows/build-test/summary",
                     "/api/v2/insights/gh/acme/api/workflows/build-test/test-metrics",
                     "/api/v2/insights/gh/acme/api/flaky-tests"):
            self.assertEqual(paths.count(path), 1, path)

    def test_promtool_silent(self):
        self.assertIsNone(orgtest.promtool_problems(self.text))

    def test_families_contiguous(self):
        self.assertEqual(orgtest.split_families(self.text), [])


class PerProjectTest(unittest.TestCase):
    """trends on for api only, test_metrics on for web only, flaky tests
    off everywhere."""

    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, PER_PROJECT_CONFIG)
        cls.text = cls.exporter.scrape_text()
        cls.samples = harness.parse_samples(cls.text, as_text=True)
        cls.log = cls.api.request_log()

    def projects_of(self, families):
        return {dict(k[1])["project"]
                for k in orgtest.of_families(self.samples, families)}

    def test_trends_only_where_enabled(self):
        self.assertEqual(self.projects_of(orgtest.TREND_FAMILIES),
                         {"gh/acme/api"})

    def test_test_metrics_only_where_enabled(self):
        self.assertEqual(self.projects_of(orgtest.TEST_METRIC_FAMILIES),
                         {"gh/acme/web"})

    def test_no_flaky_tests(self):
        self.assertEqual(self.projects_of(orgtest.FLAKY_FAMILIES), set())

    def test_no_requests_for_disabled(self):
        paths = orgtest.requested_paths(self.log)
        unexpected = [p for p in paths
                      if p.endswith("/flaky-tests") or
                      ("/gh/acme/api/" in p and p.endswith("/test-metrics")) or
                      ("/gh/acme/web/" in p and p.endswith("/summary"))]
        self.assertEqual(unexpected, [])

    def test_values_exact(self):
        fx = orgtest.fixtures()
        want = orgtest.trend_samples(fx, "gh/acme/api", ["last-7-days"])
        want.update(orgtest.test_metric_samples(fx, "gh/acme/web",
                                                ["last-7-days"]))
        seen = orgtest.of_families(self.samples, orgtest.TREND_FAMILIES +
                                   orgtest.TEST_METRIC_FAMILIES)
        self.assertEqual(seen, want)

    def test_promtool_silent(self):
        self.assertIsNone(orgtest.promtool_problems(self.text))


if __name__ == "__main__":
    harness.main()
