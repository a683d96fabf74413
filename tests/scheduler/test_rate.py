# SPDX-License-Identifier: MIT
"""Every request is paced by the token bucket.

From the fake API's request log: in every window [t, t + w] of the run the
requests that arrived are at most burst + rate * w, plus one for rounding.
The start-up pass refreshes every project while obeying this bound, also
with a fractional rate.
"""

import os
import unittest

import schedharness as h


class RateTest(unittest.TestCase):

    def run_first_pass(self, count, rate, burst, jobs):
        """Refresh count generated projects once at rate and burst; returns
        the request log."""
        workdir = h.temp_dir(self)
        fixtures = os.path.join(workdir, "fixtures")
        slugs = h.generate_fixtures(fixtures, count, workflows=("build",))
        api = h.start_fake_api(self, workdir, fixtures)
        exporter = h.start_exporter(self, workdir, h.config_text(
            api.url, h.generated_projects(slugs), rate=rate, burst=burst,
            interval="600s", jobs=jobs, last_runs=False))
        exporter.wait_ready()
        exporter.wait_all_up(slugs)

        # Requests per project: the project, its workflows and, with jobs,
        # the jobs of its one workflow.
        expected = count * (3 if jobs else 2)
        log = api.wait_requests(lambda log: len(log) >= expected,
                                "%d requests in the fake API's log"
                                % expected)
        self.assertEqual(expected, len(log),
                         "requests of the first pass: expected %d, seen %d"
                         % (expected, len(log)))
        for slug in slugs:
            self.assertTrue(
                any(h.is_workflows_request(e, slug) for e in log),
                "workflows request of %s in the first pass: expected one, "
                "seen none" % slug)
        return log

    def check_bucket(self, log, rate, burst):
        times = [e["t"] for e in log]
        bad = h.bucket_violations(times, rate, burst)
        self.assertEqual(
            [], bad[:5],
            "windows with more requests than burst %g + rate %g * width + 1 "
            "(requests, width in s, allowed); %d such windows in all"
            % (burst, rate, len(bad)))

    def test_thirty_projects_at_five_per_second(self):
        rate, burst = 5, 3
        log = self.run_first_pass(30, rate, burst, jobs=True)
        self.check_bucket(log, rate, burst)

    def test_fractional_rate(self):
        rate, burst = 0.5, 2
        log = self.run_first_pass(3, rate, burst, jobs=False)
        self.check_bucket(log, rate, burst)


if __name__ == "__main__":
    h.main()
