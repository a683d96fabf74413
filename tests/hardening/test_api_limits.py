# SPDX-License-Identifier: MIT
"""Limits on what the CircleCI API may send: circleci.max_response_bytes
and circleci.max_pages. A response over the limit fails (or is cut) without
harm to the other projects or the process, and counts in
circleci_exporter_limit_hits_total.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import harness  # noqa: E402

PAYMENTS = ("circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/"
            "4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57")


def limit_hits(samples, limit):
    return harness.value_of(samples, "circleci_exporter_limit_hits_total",
                            limit=limit)


def project_up(samples, slug):
    return harness.value_of(samples, "circleci_exporter_project_up",
                            project=slug)


class ApiLimitsTest(unittest.TestCase):
    def start(self, circleci_keys, projects):
        workdir = harness.temp_dir(self)
        api = harness.start_fake_api(self, workdir)
        text = """\
circleci:
  url: %s
  token: %s
%s
defaults:
  interval: 60s
projects:
%s
""" % (api.api_url, harness.FAKE_API_TOKEN, common.indent(circleci_keys),
       projects)
        config = harness.write_file(os.path.join(workdir, "config.yml"), text)
        exporter = harness.start_exporter(self, workdir, config)
        exporter.wait_ready()
        return exporter

    def test_response_larger_than_limit(self):
        # The workflows response of api-preview-docs is 1756 bytes; those
        # of gh/acme/empty are 45.
        exporter = self.start("max_response_bytes: 1024", """\
  - slug: gh/CircleCI-Public/api-preview-docs
  - slug: gh/acme/empty
""")
        samples = harness.parse_samples(exporter.scrape_text())
        self.assertGreaterEqual(limit_hits(samples, "max_response_bytes"), 1)
        self.assertEqual(project_up(samples,
                                    "gh/CircleCI-Public/api-preview-docs"), 0)
        self.assertEqual(project_up(samples, "gh/acme/empty"), 1)
        self.assertIn("max_response_bytes", exporter.stderr())
        self.assertTrue(exporter.alive())

    def test_pages_beyond_limit_dropped(self):
        # The workflows response of main, last-7-days, has three pages.
        exporter = self.start("max_pages: 1", """\
  - slug: %s
    branches: [main]
    windows: [last-7-days]
    jobs: false
    last_runs: false
""" % PAYMENTS)
        samples = harness.parse_samples(exporter.scrape_text())
        self.assertGreaterEqual(limit_hits(samples, "max_pages"), 1)
        runs = harness.select(samples, "circleci_workflow_runs",
                              project=PAYMENTS)
        # Page 1 contains two workflows. Pages 2 and 3 are not fetched.
        self.assertEqual(len(runs), 2, sorted(runs))
        self.assertIn("page limit reached", exporter.stderr())
        self.assertTrue(exporter.alive())


if __name__ == "__main__":
    harness.main()
