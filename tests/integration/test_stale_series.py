# SPDX-License-Identifier: MIT
"""A series disappears when a successful response no longer contains it, and a
failed request never removes anything."""

import os
import sys
import unittest

# Keep the source tree free of __pycache__ folders.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import expected  # noqa: E402
import harness  # noqa: E402

PREVIEW = "gh/CircleCI-Public/api-preview-docs"
BUILD_RATIO = ("circleci_workflow_success_ratio", frozenset({
    "project": PREVIEW, "workflow": "build", "branch": "master",
    "window": "last-7-days"}.items()))


def ecr_gc_last_7_days(samples):
    return sorted(harness.format_key(k) for k in samples
                  if ("workflow", "ecr_gc") in k[1]
                  and ("window", "last-7-days") in k[1])


class StaleSeriesTest(unittest.TestCase):
    def setUp(self):
        self.workdir = harness.temp_dir(self)
        self.api = harness.start_fake_api(self, self.workdir)
        text = harness.derive_config(harness.demo_config_text(),
                                     interval="2s", max_retries="0")
        config = harness.write_file(os.path.join(self.workdir, "fast.yml"),
                                    text)
        self.exporter = harness.start_exporter(
            self, self.workdir, config, env=harness.demo_env(self.api))
        self.exporter.wait_ready()
        self.demo = expected.expected_samples(harness.fixtures_dir("demo"))
        self.changed = expected.expected_samples(
            harness.fixtures_dir("demo-changed"))

    def circleci_samples(self):
        self.assertTrue(self.exporter.alive(), "expected the exporter to "
                        "run; stderr:\n%s" % self.exporter.stderr())
        return expected.circleci_only(harness.parse_samples(
            self.exporter.scrape_text(), as_text=True))

    def samples(self):
        return harness.parse_samples(self.exporter.scrape_text())

    def test_fixture_change_is_what_the_test_expects(self):
        # The two models differ exactly where demo-changed/README.md describes.
        self.assertEqual(self.demo[BUILD_RATIO], "0.5975609756097561")
        self.assertEqual(self.changed[BUILD_RATIO], "0.6463414634146342")
        self.assertNotEqual(ecr_gc_last_7_days(self.demo), [])
        self.assertEqual(ecr_gc_last_7_days(self.changed), [])

    def test_removed_workflow_disappears(self):
        harness.wait_for(self.circleci_samples,
                         lambda seen: seen == self.demo,
                         "the samples of the demo fixtures")
        self.api.set_fixtures(harness.fixtures_dir("demo-changed"))

        seen = harness.wait_for(
            self.circleci_samples,
            lambda s: s.get(BUILD_RATIO) == self.changed[BUILD_RATIO],
            "build's last-7-days success ratio to become %s"
            % self.changed[BUILD_RATIO])
        self.assertEqual(ecr_gc_last_7_days(seen), [],
                         "expected ecr_gc's last-7-days series gone in the "
                         "refresh that changed build's ratio")
        self.assertEqual(seen, self.changed,
                         "expected exactly the samples of demo-changed")

    def test_failed_requests_remove_nothing(self):
        harness.wait_for(self.circleci_samples,
                         lambda seen: seen == self.demo,
                         "the samples of the demo fixtures")
        start = len(self.api.request_log())
        self.api.set_faults([{"status": 500,
                              "body": {"message": "Internal server error"}}])
        self.api.set_fixtures(harness.fixtures_dir("demo-changed"))

        def failed_everywhere():
            samples = self.samples()
            return {slug: harness.value_of(
                samples, "circleci_exporter_project_up", project=slug)
                for slug in expected.DEMO_SLUGS}

        harness.wait_for(
            failed_everywhere,
            lambda up: all(v == 0.0 for v in up.values()),
            "circleci_exporter_project_up 0 for every demo project")
        faulted = [e for e in self.api.request_log()[start:]
                   if e["fault"] == "status" and e["status"] == 500]
        self.assertTrue(faulted, "expected requests that got the 500 "
                        "fault")
        self.assertEqual(self.circleci_samples(), self.demo,
                         "expected every sample kept while requests fail")

        self.api.clear_faults()
        harness.wait_for(self.circleci_samples,
                         lambda seen: seen == self.changed,
                         "the samples of demo-changed after the fault")


if __name__ == "__main__":
    harness.main()
