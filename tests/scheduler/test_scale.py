# SPDX-License-Identifier: MIT
"""200 projects against an API with its own rate limit.

The fake API responds with 429 when its own token bucket (50 per second, burst
20) is empty; the exporter runs a little below that, at 40 per second with
burst 10. After the first cycle, in two full cycles, the request log must
hold no 429 at all, and every project must be up.
"""

import os
import unittest

import schedharness as h

PROJECTS = 200
API_RATE = 50
API_BURST = 20
RATE = 40
BURST = 10
# A steady cycle is 400 requests (10 s at RATE); the interval leaves room.
INTERVAL = 20
CYCLES = 3
# Two cycles after the first pass: about a minute on an idle machine.
CYCLES_TIMEOUT = 240


class ScaleTest(unittest.TestCase):

    def test_no_rate_limit_hits_at_steady_state(self):
        workdir = h.temp_dir(self)
        fixtures = os.path.join(workdir, "fixtures")
        slugs = h.generate_fixtures(fixtures, PROJECTS, workflows=("build",),
                                    jobs=("compile",))
        api = h.start_fake_api(self, workdir, fixtures, rate=API_RATE,
                               burst=API_BURST)
        exporter = h.start_exporter(self, workdir, h.config_text(
            api.url, h.generated_projects(slugs), rate=RATE, burst=BURST,
            interval="%ds" % INTERVAL, timeout="30s", last_runs=False))

        def cycles(log):
            """Finished refreshes per project: workflows requests whose
            jobs request came too."""
            counts = {}
            for e in log:
                if e["status"] != 200:
                    continue
                path = h.relative_path(e)
                slug = path[len("/insights/"):].split("/workflows")[0] \
                    if path.startswith("/insights/") else None
                if slug and h.endpoint_of(e) == "jobs":
                    counts[slug] = counts.get(slug, 0) + 1
            return counts

        log = api.wait_requests(
            lambda log: len(cycles(log)) == PROJECTS
            and min(cycles(log).values()) >= CYCLES,
            "%d refreshes of each of %d projects" % (CYCLES, PROJECTS),
            timeout=CYCLES_TIMEOUT)

        # The second cycle begins with the first repeated workflows request.
        seen = set()
        second_cycle = None
        for e in log:
            if h.endpoint_of(e) != "workflows":
                continue
            if e["path"] in seen:
                second_cycle = e["t"]
                break
            seen.add(e["path"])
        self.assertIsNotNone(second_cycle, "a second refresh of some project")
        first = [e for e in log if e["t"] < second_cycle]
        steady = [e for e in log if e["t"] >= second_cycle]
        limited = [e for e in steady if e["status"] == 429]
        self.assertEqual(
            [], [h.request_url(e) for e in limited[:5]],
            "429 responses after the first cycle: expected none, seen %d of "
            "%d requests (and %d of %d in the first cycle)"
            % (len(limited), len(steady),
               len([e for e in first if e["status"] == 429]), len(first)))

        samples = exporter.scrape()
        down = [s for s in slugs
                if h.value_of(samples, "circleci_exporter_project_up",
                              project=s) != 1]
        self.assertEqual([], down[:10],
                         "projects without project_up 1: expected none, seen "
                         "%d" % len(down))
        overloaded = h.value_of(samples,
                                "circleci_exporter_schedule_overloaded")
        self.assertEqual(0, overloaded,
                         "circleci_exporter_schedule_overloaded: expected 0, "
                         "seen %r" % overloaded)


if __name__ == "__main__":
    h.main()
