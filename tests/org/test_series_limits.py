# SPDX-License-Identifier: MIT
"""Series limits: limits.max_series_per_project and
limits.max_series_per_org drop the series past the limit, count the hit
in circleci_exporter_limit_hits_total and log a warning once, and leave
other projects and the exporter's own gauges alone."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orgtest  # noqa: E402
from orgtest import harness  # noqa: E402

PROJECT_LIMIT = 25
ORG_LIMIT = 60
BB = "bb/acme/billing"

PROJECT_CONFIG = """\
limits:
  max_series_per_project: %d
projects:
  - slug: gh/acme/api
  - slug: gh/acme/empty
""" % PROJECT_LIMIT

ORG_CONFIG = """\
limits:
  max_series_per_org: %d
projects:
  - slug: bb/acme/billing
    branches: ["*"]
organizations:
  - slug: gh/acme
    discover_projects: true
    include: "^(api|web)$"
""" % ORG_LIMIT


def series_of_project(samples, slug):
    return {k: v for k, v in orgtest.circleci_samples(samples).items()
            if dict(k[1]).get("project") == slug}


def series_of_org(samples, org):
    return {k: v for k, v in orgtest.circleci_samples(samples).items()
            if dict(k[1]).get("org") == org or
            dict(k[1]).get("project", "").startswith(org + "/")}


class ProjectLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, PROJECT_CONFIG)
        cls.text = cls.exporter.scrape_text()
        cls.samples = harness.parse_samples(cls.text, as_text=True)

    def test_project_capped(self):
        kept = series_of_project(self.samples, "gh/acme/api")
        full = orgtest.project_samples("gh/acme/api", [], ["last-7-days"])
        self.assertGreater(len(full), PROJECT_LIMIT)
        self.assertEqual(len(kept), PROJECT_LIMIT)
        for k, v in kept.items():
            with self.subTest(series=harness.format_key(k)):
                self.assertEqual(v, full.get(k))

    def test_other_project_untouched(self):
        full = orgtest.project_samples("gh/acme/empty", [], ["last-7-days"])
        self.assertLessEqual(len(full), PROJECT_LIMIT)
        self.assertEqual(series_of_project(self.samples, "gh/acme/empty"),
                         full)

    def test_hit_counted(self):
        self.assertEqual(harness.value_of(
            self.samples, "circleci_exporter_limit_hits_total",
            limit="max_series_per_project"), "1")
        self.assertEqual(harness.value_of(
            self.samples, "circleci_exporter_limit_hits_total",
            limit="max_series_per_org"), "0")

    def test_warning_logged_once(self):
        lines = [line for line in self.exporter.stderr().splitlines()
                 if "max_series_per_project" in line]
        self.assertEqual(len(lines), 1, lines)

    def test_own_gauges_kept(self):
        self.assertEqual(orgtest.project_up(self.samples),
                         {"gh/acme/api": "1", "gh/acme/empty": "1"})

    def test_series_gauge_matches(self):
        self.assertEqual(
            harness.value_of(self.samples, "circleci_exporter_series"),
            str(len(orgtest.circleci_samples(self.samples))))

    def test_promtool_silent(self):
        self.assertIsNone(orgtest.promtool_problems(self.text))


class OrgLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, ORG_CONFIG)
        cls.text = cls.exporter.scrape_text()
        cls.samples = harness.parse_samples(cls.text, as_text=True)

    def test_org_capped(self):
        full = orgtest.org_samples(orgtest.fixtures(), windows=["last-7-days"])
        for slug in ("gh/acme/api", "gh/acme/web"):
            full.update(orgtest.project_samples(slug, [], ["last-7-days"]))
        kept = series_of_org(self.samples, orgtest.ORG)
        self.assertGreater(len(full), ORG_LIMIT)
        self.assertLessEqual(len(kept), ORG_LIMIT)
        self.assertGreater(len(kept), 0)
        for k, v in kept.items():
            with self.subTest(series=harness.format_key(k)):
                self.assertEqual(v, full.get(k))

    def test_project_outside_org_untouched(self):
        full = orgtest.project_samples(BB, ["*"], ["last-7-days"])
        self.assertEqual(series_of_project(self.samples, BB), full)

    def test_hit_counted(self):
        hits = harness.value_of(self.samples,
                                "circleci_exporter_limit_hits_total",
                                limit="max_series_per_org")
        self.assertIsNotNone(hits)
        self.assertGreaterEqual(float(hits), 1)

    def test_own_gauges_kept(self):
        self.assertEqual(orgtest.project_up(self.samples),
                         {"gh/acme/api": "1", "gh/acme/web": "1", BB: "1"})

    def test_promtool_silent(self):
        self.assertIsNone(orgtest.promtool_problems(self.text))


if __name__ == "__main__":
    harness.main()
