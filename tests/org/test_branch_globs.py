# SPDX-License-Identifier: MIT
"""Branch globs: expanded against GET /insights/{slug}/branches, merged
with the branches listed by name, capped by
limits.max_branches_per_project, and the branch list fetched once an hour,
not on every refresh."""

import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orgtest  # noqa: E402
from orgtest import harness  # noqa: E402

CCI = ("circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/"
       "4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57")

GLOB_CONFIG = """\
projects:
  - slug: gh/acme/api
    branches: [main, "m*", "release/*"]
  - slug: %s
    interval: 2s
    branches: ["release/*"]
""" % CCI

CAP_CONFIG = """\
limits:
  max_branches_per_project: 1
projects:
  - slug: gh/acme/api
    branches: [main, "release/*"]
"""

API_BRANCHES = ["main", "release/1.0", "release/1.1"]
WORKFLOWS_PATH = "/api/v2/insights/gh/acme/api/workflows"
CCI_BRANCHES_PATH = "/api/v2/insights/%s/branches" % CCI
CCI_WORKFLOWS_PATH = "/api/v2/insights/%s/workflows" % CCI


def branches_of(samples, slug):
    return {dict(k[1])["branch"] for k in samples
            if k[0] == "circleci_workflow_runs" and
            dict(k[1])["project"] == slug}


class GlobTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, GLOB_CONFIG)

        # Wait for the third refresh of the standalone project (interval
        # 2s) to ask for its workflows.
        def third_refresh():
            paths = orgtest.requested_paths(cls.api.request_log())
            return paths.count(CCI_WORKFLOWS_PATH) >= 3

        harness.wait_until(third_refresh, "a third refresh of %s" % CCI)
        cls.text = cls.exporter.scrape_text()
        cls.samples = harness.parse_samples(cls.text, as_text=True)
        cls.log = cls.api.request_log()

    def test_glob_matches_only_matching_branches(self):
        self.assertEqual(branches_of(self.samples, "gh/acme/api"),
                         set(API_BRANCHES))
        self.assertEqual(branches_of(self.samples, CCI), {"release/2.0"})

    def test_values_exact(self):
        want = orgtest.project_samples("gh/acme/api", API_BRANCHES,
                                       ["last-7-days"])
        want.update(orgtest.project_samples(CCI, ["release/2.0"],
                                            ["last-7-days"]))
        seen = {k: v for k, v in self.samples.items()
                if orgtest.is_project_family(k[0])}
        self.assertGreater(len(want), 100)
        for k in sorted(set(want) | set(seen)):
            with self.subTest(series=harness.format_key(k)):
                self.assertEqual(seen.get(k), want.get(k))

    def test_unmatched_branches_never_requested(self):
        queries = [e["query"] for e in self.log
                   if e["path"].startswith(WORKFLOWS_PATH)]
        for name in ("feature", "renovate"):
            self.assertEqual([q for q in queries if name in q], [])

    def test_name_and_glob_deduplicated(self):
        # gh/acme/api refreshes once an hour: main, listed by name and
        # matched by "m*", is asked for once.
        api_log = [e for e in self.log if "/gh/acme/api/" in e["path"]]
        self.assertEqual(orgtest.repeated_requests(api_log), [])
        branches = sorted(urllib.parse.parse_qs(e["query"])["branch"][0]
                          for e in api_log if e["path"] == WORKFLOWS_PATH)
        self.assertEqual(branches, API_BRANCHES)

    def test_branch_list_fetched_once(self):
        paths = orgtest.requested_paths(self.log)
        self.assertGreaterEqual(paths.count(CCI_WORKFLOWS_PATH), 3)
        self.assertEqual(paths.count(CCI_BRANCHES_PATH), 1,
                         "expected one branch list request in three "
                         "refreshes within the hour")

    def test_no_cap_hit(self):
        self.assertEqual(harness.value_of(
            self.samples, "circleci_exporter_limit_hits_total",
            limit="max_branches_per_project"), "0")

    def test_promtool_silent(self):
        self.assertIsNone(orgtest.promtool_problems(self.text))


class GlobCapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api, cls.exporter = orgtest.start(cls, CAP_CONFIG)
        cls.text = cls.exporter.scrape_text()
        cls.samples = harness.parse_samples(cls.text, as_text=True)

    def test_first_sorted_match_kept(self):
        self.assertEqual(branches_of(self.samples, "gh/acme/api"),
                         {"main", "release/1.0"})

    def test_cap_counted(self):
        self.assertEqual(harness.value_of(
            self.samples, "circleci_exporter_limit_hits_total",
            limit="max_branches_per_project"), "1")

    def test_cap_logged_once(self):
        lines = [line for line in self.exporter.stderr().splitlines()
                 if "max_branches_per_project" in line]
        self.assertEqual(len(lines), 1, lines)

    def test_project_up(self):
        self.assertEqual(orgtest.project_up(self.samples),
                         {"gh/acme/api": "1"})

    def test_promtool_silent(self):
        self.assertIsNone(orgtest.promtool_problems(self.text))


if __name__ == "__main__":
    harness.main()
