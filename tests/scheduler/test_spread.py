# SPDX-License-Identifier: MIT
"""After the first pass the refreshes spread over the interval.

Twelve projects with an interval of 12 s and a rate high enough for all of
them: the first pass refreshes all at once, after which each project gets
its own phase. In the second cycle, the refresh starts (the first
workflows request of each project, from the fake API's log) must spread
over the interval instead of coming all at once.
"""

import os
import unittest

import schedharness as h

PROJECTS = 12
INTERVAL = 12.0
SLOT = 2.0
# A 2 s slot contains 2 starts when they are evenly spread; allow for
# jitter.
MAX_STARTS_PER_SLOT = 4


def max_in_slot(times, slot):
    """The maximum number of times in a half-open window of length slot."""
    times = sorted(times)
    return max(len([u for u in times if t <= u < t + slot]) for t in times)


class SpreadTest(unittest.TestCase):

    def test_second_cycle_spreads_over_interval(self):
        workdir = h.temp_dir(self)
        fixtures = os.path.join(workdir, "fixtures")
        slugs = h.generate_fixtures(fixtures, PROJECTS)
        api = h.start_fake_api(self, workdir, fixtures)
        exporter = h.start_exporter(self, workdir, h.config_text(
            api.url, h.generated_projects(slugs), rate=50, burst=20,
            interval="%gs" % INTERVAL, last_runs=False))
        exporter.wait_ready()
        samples = exporter.wait_all_up(slugs)

        # The schedule after the first pass, as the exporter publishes it.
        planned = [h.value_of(
            samples, "circleci_exporter_next_refresh_timestamp_seconds",
            project=s) for s in slugs]
        self.assertNotIn(None, planned,
                         "circleci_exporter_next_refresh_timestamp_seconds: "
                         "expected a sample for every project, seen %r"
                         % planned)
        self.assertGreaterEqual(
            max(planned) - min(planned), INTERVAL / 2,
            "span of the next refresh times after the first pass: expected "
            "at least half the interval (%g s), seen %.3f s: %r"
            % (INTERVAL / 2, max(planned) - min(planned), sorted(planned)))

        def starts(log):
            return {s: [e["t"] for e in log if h.is_workflows_request(e, s)]
                    for s in slugs}

        log = api.wait_requests(
            lambda log: all(len(t) >= 2 for t in starts(log).values()),
            "a second refresh of every project", timeout=INTERVAL * 8)
        first = [starts(log)[s][0] for s in slugs]
        second = [starts(log)[s][1] for s in slugs]

        self.assertLess(
            max(first), min(second),
            "the second cycle should begin after the first pass ended: last "
            "first-pass start %.3f, first second-cycle start %.3f"
            % (max(first), min(second)))
        relative = sorted(t - min(second) for t in second)
        crowded = max_in_slot(second, SLOT)
        self.assertLessEqual(
            crowded, MAX_STARTS_PER_SLOT,
            "refresh starts in one %g s slot of the second cycle: expected "
            "at most %d, seen %d; starts in s after the first: %s"
            % (SLOT, MAX_STARTS_PER_SLOT, crowded,
               ", ".join("%.2f" % t for t in relative)))
        self.assertGreaterEqual(
            relative[-1], INTERVAL / 2,
            "span of the second cycle's refresh starts: expected at least "
            "half the interval (%g s), seen %.3f s"
            % (INTERVAL / 2, relative[-1]))


if __name__ == "__main__":
    h.main()
