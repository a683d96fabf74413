# SPDX-License-Identifier: MIT
"""Two exporters with sharding total 2 (index 0 and 1) cover every
configured and discovered project exactly once, split by the FNV-1a hash
of the slug. Only shard 0 serves the organization series. Shard 1 fetches
the organization summary for discovery alone."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orgtest  # noqa: E402
from orgtest import harness  # noqa: E402

APD = "gh/CircleCI-Public/api-preview-docs"
CCI = ("circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/"
       "4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57")
BB = "bb/acme/billing"

CONFIG = """\
sharding:
  total: 2
  index: %d
projects:
  - slug: gh/CircleCI-Public/api-preview-docs
    windows: [last-24-hours, last-7-days, last-30-days]
  - slug: circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57
    branches: [main, release/2.0]
    windows: [last-24-hours, last-7-days]
  - slug: bb/acme/billing
    branches: ["*"]
organizations:
  - slug: gh/acme
    discover_projects: true
    windows: [last-7-days, last-30-days]
"""

# (slug, branches, windows) of every project, configured or discovered.
PROJECTS = [
    (APD, [], ["last-24-hours", "last-7-days", "last-30-days"]),
    (CCI, ["main", "release/2.0"], ["last-24-hours", "last-7-days"]),
    (BB, ["*"], ["last-7-days"]),
] + [(slug, [], orgtest.WINDOWS) for slug in orgtest.ALL_PROJECTS]


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class ShardingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shards = []
        for index in (0, 1):
            api, exporter = orgtest.start(cls, CONFIG % index,
                                          name="exporter-%d" % index)
            text = exporter.scrape_text()
            cls.shards.append({
                "api": api, "exporter": exporter, "text": text,
                "samples": harness.parse_samples(text, as_text=True),
                "log": api.request_log()})

    def test_hash_matches_worked_example(self):
        # The example of docs/metrics-insights.md.
        self.assertEqual(fnv1a64("gh/acme/api"), 8404359855762377610)

    def test_every_project_exactly_once(self):
        ups = [orgtest.project_up(s["samples"]) for s in self.shards]
        self.assertEqual(set(ups[0]) & set(ups[1]), set())
        self.assertEqual(sorted(set(ups[0]) | set(ups[1])),
                         sorted(p[0] for p in PROJECTS))

    def test_split_by_hash(self):
        for index, shard in enumerate(self.shards):
            want = sorted(p[0] for p in PROJECTS if fnv1a64(p[0]) % 2 == index)
            with self.subTest(shard=index):
                self.assertEqual(sorted(orgtest.project_up(shard["samples"])),
                                 want)

    def test_project_values_exact_across_shards(self):
        want = {}
        for slug, branches, windows in PROJECTS:
            want.update(orgtest.project_samples(slug, branches, windows))
        seen = {}
        for shard in self.shards:
            for k, v in shard["samples"].items():
                if orgtest.is_project_family(k[0]):
                    self.assertNotIn(k, seen, "series served by both shards")
                    seen[k] = v
        self.assertGreater(len(want), 500)
        for k in sorted(set(want) | set(seen)):
            with self.subTest(series=harness.format_key(k)):
                self.assertEqual(seen.get(k), want.get(k))

    def test_org_series_only_on_shard_0(self):
        want = orgtest.org_samples(orgtest.fixtures())
        for index, shard in enumerate(self.shards):
            seen = orgtest.of_families(shard["samples"], orgtest.ORG_FAMILIES)
            with self.subTest(shard=index):
                self.assertEqual(seen, want if index == 0 else {})

    def test_summary_requests(self):
        for index, shard in enumerate(self.shards):
            queries = sorted(e["query"] for e in shard["log"]
                             if e["path"] == "/api/v2/insights/gh/acme/summary")
            with self.subTest(shard=index):
                if index == 0:
                    self.assertEqual(queries, ["reporting-window=last-30-days",
                                               "reporting-window=last-7-days"])
                else:
                    self.assertEqual(len(queries), 1,
                                     "expected one summary request, for "
                                     "discovery, seen %r" % queries)

    def test_other_shard_projects_never_requested(self):
        for index, shard in enumerate(self.shards):
            foreign = [p[0] for p in PROJECTS if fnv1a64(p[0]) % 2 != index]
            hits = [e["path"] for e in shard["log"]
                    if any(e["path"].startswith("/api/v2/project/" + slug) or
                           e["path"].startswith("/api/v2/insights/" + slug + "/")
                           for slug in foreign)]
            with self.subTest(shard=index):
                self.assertEqual(hits, [])

    def test_each_request_once(self):
        for index, shard in enumerate(self.shards):
            with self.subTest(shard=index):
                self.assertEqual(orgtest.repeated_requests(shard["log"]), [])

    def test_promtool_silent(self):
        for index, shard in enumerate(self.shards):
            with self.subTest(shard=index):
                self.assertIsNone(orgtest.promtool_problems(shard["text"]))


if __name__ == "__main__":
    harness.main()
