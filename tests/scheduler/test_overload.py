# SPDX-License-Identifier: MIT
"""An interval too short for the rate: a warning, a gauge, no pile-up.

Ten projects that need 3 requests per refresh (4 in the first) every 5 s
need 6 requests per second, but the rate is 4. The exporter must log once
that the cycle does not fit and set circleci_exporter_schedule_overloaded
to 1. It must also keep pacing. The request log stays within the token
bucket, and no more than max_concurrency requests are in flight at once.
Every refresh of a project makes exactly its own requests without
overlapping the next one, no project starves, and /metrics keeps
responding throughout.
"""

import os
import time
import unittest

import schedharness as h

PROJECTS = 10
RATE = 4
BURST = 4
INTERVAL = 5
MAX_CONCURRENCY = 2
# Every request takes at least this long, so overlapping requests show in
# the log.
DELAY = 0.2
CYCLES = 3
# About 25 s when the cycles run as planned; the rest is for a loaded machine.
CYCLES_TIMEOUT = 90
OVERLOAD_MESSAGE = r"msg=\"?refresh cycle does not fit in the interval"


class OverloadTest(unittest.TestCase):

    def test_short_interval_is_paced_and_flagged(self):
        workdir = h.temp_dir(self)
        fixtures = os.path.join(workdir, "fixtures")
        slugs = h.generate_fixtures(fixtures, PROJECTS, workflows=("build",),
                                    jobs=("compile",))
        api = h.start_fake_api(self, workdir, fixtures)
        api.set_faults([{"path_prefix": "/", "delay_ms": int(DELAY * 1000)}])
        exporter = h.start_exporter(self, workdir, h.config_text(
            api.url, h.generated_projects(slugs), rate=RATE, burst=BURST,
            interval="%ds" % INTERVAL, max_concurrency=MAX_CONCURRENCY))

        # Scrape until every project has started CYCLES refreshes. Once
        # the gauge is 1 it must stay 1: the load does not change.
        deadline = time.monotonic() + CYCLES_TIMEOUT
        overloaded_since = None
        scrapes = 0
        while True:
            samples = exporter.scrape()
            scrapes += 1
            flag = h.value_of(samples,
                              "circleci_exporter_schedule_overloaded")
            if overloaded_since is not None:
                self.assertEqual(
                    1, flag, "circleci_exporter_schedule_overloaded after it "
                    "was 1 at scrape %d: expected 1, seen %r at scrape %d"
                    % (overloaded_since, flag, scrapes))
            elif flag == 1:
                overloaded_since = scrapes
            log = api.requests()
            counts = {s: len([e for e in log if h.is_workflows_request(e, s)])
                      for s in slugs}
            if min(counts.values()) >= CYCLES:
                break
            if time.monotonic() > deadline:
                self.fail("refreshes (workflows requests) per project after "
                          "%d s: expected at least %d each, seen %s"
                          % (CYCLES_TIMEOUT, CYCLES, ", ".join(
                              "%s: %d" % kv for kv in counts.items())))
            time.sleep(0.5)
        self.assertIsNotNone(overloaded_since,
                             "circleci_exporter_schedule_overloaded: "
                             "expected 1 at some scrape, never seen")
        status = h.http_request(exporter.port, "/-/ready")[0]
        self.assertEqual(200, status, "/-/ready once every project was "
                         "refreshed: expected 200, seen %d" % status)
        samples = exporter.scrape()
        self.assertEqual(1, h.value_of(
            samples, "circleci_exporter_schedule_overloaded"),
            "circleci_exporter_schedule_overloaded at the end")

        warnings = exporter.log_lines(OVERLOAD_MESSAGE)
        self.assertEqual(1, len(warnings),
                         "log lines saying the cycle does not fit: expected "
                         "1, seen %d:\n%s" % (len(warnings),
                                              "\n".join(warnings)))
        self.assertIn("level=warn", warnings[0],
                      "level of the overload line: %s" % warnings[0])

        bad = h.bucket_violations([e["t"] for e in log], RATE, BURST)
        self.assertEqual(
            [], bad[:5], "windows with more requests than burst %g + rate %g "
            "* width + 1 (requests, width in s, allowed); %d in all"
            % (BURST, RATE, len(bad)))

        overlap = h.max_overlap([e["t"] for e in log], DELAY * 0.95)
        self.assertLessEqual(overlap, MAX_CONCURRENCY,
                             "requests in flight at once: expected at most "
                             "max_concurrency %d, seen %d"
                             % (MAX_CONCURRENCY, overlap))

        for slug in slugs:
            self.check_refreshes(slug, log)

        counts = [len([e for e in log if h.is_workflows_request(e, s)])
                  for s in slugs]
        self.assertLessEqual(max(counts) - min(counts), 2,
                             "refreshes per project: expected about equal, "
                             "seen %r" % counts)

    def check_refreshes(self, slug, log):
        """After the first, each refresh of slug is its workflows request
        followed by one jobs and one runs request, before the next
        refresh's workflows request."""
        mine = [e for e in log
                if h.relative_path(e).startswith("/insights/%s/" % slug)]
        refreshes = []
        for e in mine:
            if h.is_workflows_request(e, slug):
                refreshes.append([])
            refreshes[-1].append(h.endpoint_of(e))
        # The last refresh may still be running.
        for i, endpoints in enumerate(refreshes[:-1]):
            self.assertEqual(
                ["jobs", "runs", "workflows"], sorted(endpoints),
                "requests of refresh %d of %s: expected one each of "
                "workflows, jobs and runs, seen %r"
                % (i + 1, slug, endpoints))


if __name__ == "__main__":
    h.main()
