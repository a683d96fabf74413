# SPDX-License-Identifier: MIT
"""An organization entry without listed projects: its summary series, the
projects it discovers (include and exclude honoured, the 404 project
reported down), their exact values, and the requests it makes."""

import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orgtest  # noqa: E402
from orgtest import harness  # noqa: E402

EXCLUDE_CONFIG = """\
organizations:
  - slug: gh/acme
    discover_projects: true
    exclude: "legacy$"
    windows: [last-7-days, last-30-days]
"""

INCLUDE_CONFIG = """\
organizations:
  - slug: gh/acme
    discover_projects: true
    include: "^(api|billing-legacy)$"
    windows: [last-7-days]
"""


class DiscoveryExcludeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, EXCLUDE_CONFIG)
        cls.text = cls.exporter.scrape_text()
        cls.samples = harness.parse_samples(cls.text, as_text=True)
        cls.log = cls.api.request_log()

    def setUp(self):
        self.fx = orgtest.fixtures()

    def test_discovered_projects_up(self):
        up = orgtest.project_up(self.samples)
        self.assertEqual(up, {"gh/acme/api": "1", "gh/acme/web": "1",
                              "gh/acme/empty": "1", "gh/acme/gone": "0"})

    def test_excluded_project_never_requested(self):
        hits = [p for p in orgtest.requested_paths(self.log)
                if "billing-legacy" in p]
        self.assertEqual(hits, [], "expected no request for the excluded "
                         "project gh/acme/billing-legacy")

    def test_gone_project_logged_once(self):
        lines = [line for line in self.exporter.stderr().splitlines()
                 if "project=gh/acme/gone" in line and "level=warn" in line]
        self.assertEqual(len(lines), 1, "expected one warning about the "
                         "404 project, seen: %r" % lines)

    def test_org_series_exact(self):
        want = orgtest.org_samples(self.fx)
        seen = orgtest.of_families(self.samples, orgtest.ORG_FAMILIES)
        self.assertGreater(len(want), 20, "the model expects too few "
                           "organization series")
        self.assertEqual(seen, want)

    def test_project_workflow_job_series_exact(self):
        want = {}
        for slug in ("gh/acme/api", "gh/acme/web", "gh/acme/empty",
                     orgtest.GONE):
            want.update(orgtest.project_samples(slug, [], orgtest.WINDOWS))
        seen = {k: v for k, v in self.samples.items()
                if orgtest.is_project_family(k[0])}
        self.assertGreater(len(want), 100, "the model expects too few "
                           "workflow and job series")
        for k in sorted(set(want) | set(seen)):
            with self.subTest(series=harness.format_key(k)):
                self.assertEqual(seen.get(k), want.get(k))

    def test_optional_families_absent_by_default(self):
        names = (orgtest.FLAKY_FAMILIES + orgtest.TREND_FAMILIES +
                 orgtest.TEST_METRIC_FAMILIES)
        self.assertEqual(orgtest.of_families(self.samples, names), {})
        paths = [p for p in orgtest.requested_paths(self.log)
                 if p.endswith(("/flaky-tests", "/summary", "/test-metrics"))
                 and not p.endswith("/insights/gh/acme/summary")]
        self.assertEqual(paths, [], "expected no request for flaky tests, "
                         "trends or test metrics when they are off")

    def test_each_request_once(self):
        self.assertEqual(orgtest.repeated_requests(self.log), [])

    def test_summary_fetched_per_window(self):
        queries = sorted(e["query"] for e in self.log
                         if e["path"] == "/api/v2/insights/gh/acme/summary")
        self.assertEqual(queries, ["reporting-window=last-30-days",
                                   "reporting-window=last-7-days"])

    def test_promtool_silent(self):
        self.assertIsNone(orgtest.promtool_problems(self.text))

    def test_families_contiguous(self):
        self.assertEqual(orgtest.split_families(self.text), [])


class DiscoveryIncludeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, INCLUDE_CONFIG)
        cls.text = cls.exporter.scrape_text()
        cls.samples = harness.parse_samples(cls.text, as_text=True)

    def test_only_included_projects(self):
        up = orgtest.project_up(self.samples)
        self.assertEqual(up, {"gh/acme/api": "1",
                              "gh/acme/billing-legacy": "1"})

    def test_included_values_exact(self):
        want = {}
        for slug in ("gh/acme/api", "gh/acme/billing-legacy"):
            want.update(orgtest.project_samples(slug, [], ["last-7-days"]))
        seen = {k: v for k, v in self.samples.items()
                if orgtest.is_project_family(k[0])}
        self.assertEqual(seen, want)

    def test_org_series_of_window(self):
        want = orgtest.org_samples(orgtest.fixtures(),
                                   windows=["last-7-days"])
        seen = orgtest.of_families(self.samples, orgtest.ORG_FAMILIES)
        self.assertEqual(seen, want)

    def test_promtool_silent(self):
        self.assertIsNone(orgtest.promtool_problems(self.text))


class ConfiguredPrecedenceTest(unittest.TestCase):
    """A project listed under projects: is polled with its own settings,
    once, although the organization also lists it."""

    CONFIG = """\
projects:
  - slug: gh/acme/api
    windows: [last-30-days]
    jobs: false
organizations:
  - slug: gh/acme
    discover_projects: true
    include: "^(api|web)$"
    windows: [last-7-days]
"""

    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, cls.CONFIG)
        cls.samples = harness.parse_samples(cls.exporter.scrape_text(),
                                            as_text=True)
        cls.log = cls.api.request_log()

    def test_configured_settings_win(self):
        windows = {dict(k[1])["window"] for k in self.samples
                   if k[0] == "circleci_workflow_runs" and
                   dict(k[1])["project"] == "gh/acme/api"}
        self.assertEqual(windows, {"last-30-days"})
        jobs = [k for k in self.samples if k[0] == "circleci_job_runs" and
                dict(k[1])["project"] == "gh/acme/api"]
        self.assertEqual(jobs, [])

    def test_no_duplicate_polling(self):
        self.assertEqual(orgtest.repeated_requests(self.log), [])
        project_lookups = [e for e in self.log
                           if e["path"] == "/api/v2/project/gh/acme/api"]
        self.assertEqual(len(project_lookups), 1)

    def test_discovered_sibling_polled(self):
        up = orgtest.project_up(self.samples)
        self.assertEqual(up, {"gh/acme/api": "1", "gh/acme/web": "1"})


class ReloadTest(unittest.TestCase):
    """SIGHUP with a new include filter adds and removes discovered
    projects; with discovery off, the discovered projects go."""

    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, EXCLUDE_CONFIG)

    def reload(self, body):
        orgtest.write_config(os.path.dirname(self.exporter.config), self.api,
                             body, name=os.path.basename(self.exporter.config))
        self.exporter.proc.send_signal(signal.SIGHUP)

    def wait_projects(self, want):
        def projects():
            samples = harness.parse_samples(self.exporter.scrape_text(),
                                            as_text=True)
            return sorted(orgtest.project_up(samples)) == sorted(want)

        harness.wait_until(projects, "projects %r" % (want,))

    def test_reload_changes_discovered(self):
        self.wait_projects(["gh/acme/api", "gh/acme/empty", "gh/acme/gone",
                            "gh/acme/web"])
        self.reload(INCLUDE_CONFIG.replace("api|billing-legacy",
                                           "web|billing-legacy"))
        self.wait_projects(["gh/acme/billing-legacy", "gh/acme/web"])
        self.reload(INCLUDE_CONFIG.replace("discover_projects: true",
                                           "discover_projects: false"))
        self.wait_projects([])
        text = self.exporter.scrape_text()
        self.assertIsNone(orgtest.promtool_problems(text))
        samples = harness.parse_samples(text, as_text=True)
        self.assertEqual(orgtest.of_families(samples, orgtest.ORG_FAMILIES),
                         orgtest.org_samples(orgtest.fixtures(),
                                             windows=["last-7-days"]))


if __name__ == "__main__":
    harness.main()
