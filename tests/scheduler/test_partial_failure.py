# SPDX-License-Identifier: MIT
"""A request that keeps failing keeps its old values; the rest updates.

Two generated projects are served from fixture set v1, then from v2, in
which every value differs and project p001 no longer lists its workflow
deploy. While the jobs request of p000's workflow build fails with 500,
that workflow's job series must keep their v1 values and every other
series must take its v2 value. p001's deploy series must go, because a
successful response no longer lists it, and p000 must be reported down.
Once the fault is cleared, p000 is up again and every series has its v2
value.
"""

import os
import unittest

import schedharness as h

INTERVAL = 3.0
FAILING_PROJECT = "gh/org/p000"
FAILING_WORKFLOW = "build"
OTHER_PROJECT = "gh/org/p001"
DROPPED_WORKFLOW = "deploy"
# Scheduled refresh times jitter by far less than this.
SCHEDULE_SLACK = 0.5


def is_failing_job_series(key):
    labels = dict(key[1])
    return (key[0].startswith("circleci_job_")
            and labels.get("project") == FAILING_PROJECT
            and labels.get("workflow") == FAILING_WORKFLOW)


class PartialFailureTest(unittest.TestCase):

    def setUp(self):
        self.workdir = h.temp_dir(self)
        self.v1 = os.path.join(self.workdir, "v1")
        self.v2 = os.path.join(self.workdir, "v2")
        self.slugs = h.generate_fixtures(self.v1, 2, version=1)
        h.generate_fixtures(self.v2, 2, version=2,
                            drop=[(OTHER_PROJECT, DROPPED_WORKFLOW)])
        projects = h.generated_projects(self.slugs)
        self.ref1 = h.reference_series(self.workdir, self.v1, projects,
                                       name="reference-v1")
        self.ref2 = h.reference_series(self.workdir, self.v2, projects,
                                       name="reference-v2")
        self.api = h.start_fake_api(self, self.workdir, self.v1)
        self.exporter = h.start_exporter(self, self.workdir, h.config_text(
            self.api.url, projects, interval="%gs" % INTERVAL,
            max_retries=1))

    def next_refresh(self, samples, slug):
        value = h.value_of(samples,
                           "circleci_exporter_next_refresh_timestamp_seconds",
                           project=slug)
        self.assertIsNotNone(value, "next refresh time of %s: expected a "
                             "sample, seen none" % slug)
        return value

    def wait_two_refreshes(self):
        """Wait until every project has finished two refreshes planned
        from now on; returns the samples then served."""
        samples = self.exporter.scrape()
        # When a refresh is running, its next refresh time is its own
        # start: the refresh after it starts an interval later and is
        # planned anew when it finishes.
        targets = {s: self.next_refresh(samples, s) + 2 * INTERVAL -
                   SCHEDULE_SLACK for s in self.slugs}
        return self.exporter.wait_scrape(
            lambda samples: all(self.next_refresh(samples, s) >= t
                                for s, t in targets.items()),
            "two refreshes of every project")

    def check_up(self, samples, slug, want):
        got = h.value_of(samples, "circleci_exporter_project_up",
                         project=slug)
        self.assertEqual(want, got,
                         "circleci_exporter_project_up{project=\"%s\"}: "
                         "expected %d, seen %r" % (slug, want, got))

    def test_failing_jobs_keep_old_values(self):
        failing_v1 = {k: v for k, v in self.ref1.items()
                      if is_failing_job_series(k)}
        failing_v2 = {k: v for k, v in self.ref2.items()
                      if is_failing_job_series(k)}
        self.assertTrue(failing_v1, "job series of %s %s in fixture set v1: "
                        "expected some, seen none"
                        % (FAILING_PROJECT, FAILING_WORKFLOW))
        self.assertNotEqual(failing_v1, failing_v2,
                            "fixture sets v1 and v2 must differ in the job "
                            "series of the failing workflow")

        self.exporter.wait_ready()
        self.exporter.wait_scrape(
            lambda samples: h.circleci_series(samples) == self.ref1,
            "the series of fixture set v1",
            describe=lambda samples: h.series_difference(
                self.ref1, h.circleci_series(samples)))

        # The fault first, then the new fixtures, so every request served
        # from v2 gets the fault too.
        self.api.set_faults([{
            "path_regex": "^/insights/%s/workflows/%s/jobs$"
                          % (FAILING_PROJECT, FAILING_WORKFLOW),
            "status": 500, "body": {"message": "Internal Server Error"}}])
        self.api.set_fixtures(self.v2)
        samples = self.wait_two_refreshes()

        self.check_up(samples, FAILING_PROJECT, 0)
        self.check_up(samples, OTHER_PROJECT, 1)
        expected = {k: v for k, v in self.ref2.items()
                    if not is_failing_job_series(k)}
        expected.update(failing_v1)
        h.assert_same_series(
            self, expected, h.circleci_series(samples),
            "series while the jobs of %s %s fail: expected the old values "
            "for those and the new ones for the rest"
            % (FAILING_PROJECT, FAILING_WORKFLOW))
        dropped = h.select(h.circleci_series(samples), project=OTHER_PROJECT,
                           workflow=DROPPED_WORKFLOW)
        self.assertEqual({}, dropped, "series of %s %s after a response "
                         "without it" % (OTHER_PROJECT, DROPPED_WORKFLOW))

        # The last success came before the first failed request.
        log = self.api.requests()
        failed = [e for e in log if e["status"] == 500]
        self.assertTrue(failed, "requests that got 500: expected some, "
                        "seen none")
        last_success = h.value_of(
            samples, "circleci_exporter_last_refresh_timestamp_seconds",
            project=FAILING_PROJECT)
        self.assertLessEqual(
            last_success, failed[0]["t"],
            "last successful refresh of %s: expected no later than the "
            "first 500 at %.3f, seen %r"
            % (FAILING_PROJECT, failed[0]["t"], last_success))

        self.api.set_faults([])
        samples = self.wait_two_refreshes()
        self.check_up(samples, FAILING_PROJECT, 1)
        self.check_up(samples, OTHER_PROJECT, 1)
        h.assert_same_series(
            self, self.ref2, h.circleci_series(samples),
            "series after the fault was cleared: expected those of fixture "
            "set v2")


if __name__ == "__main__":
    h.main()
