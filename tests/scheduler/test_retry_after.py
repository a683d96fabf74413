# SPDX-License-Identifier: MIT
"""A 429 pauses every request for the time that the API requests.

Each case fails the first workflows request with one 429 and reads the
fake API's request log: no request may arrive between that 429 and the end
of the pause (50 ms of clock slack allowed). The pause comes from
Retry-After in seconds, Retry-After as an HTTP date, X-RateLimit-Reset, or,
with no hint, the first step of the exponential backoff (1 s). The exporter
runs with max_concurrency 1, so every request after the 429 was started
after its response arrived and the log shows the pause exactly.
"""

import email.utils
import json
import math
import os
import time
import unittest

import schedharness as h

RATE = 50
BURST = 20
CLOCK_SLACK = 0.05
RATE_DROP = 0.5        # the bucket halves its rate on a 429
RECOVERY_RUN = 20      # non-429 responses before the rate grows again
RECOVERY_STEP = 1.25


def known_samples():
    """A few samples read straight from the demo fixture files."""
    expected = {}
    docs = os.path.join(h.demo_fixtures(),
                        "gh-circleci-public-api-preview-docs",
                        "workflows-last-7-days.json")
    billing = os.path.join(h.demo_fixtures(), "bb-acme-billing",
                           "workflows-all-branches-last-7-days.json")
    for path, slug, branch in ((docs, h.DOCS_SLUG, "master"),
                               (billing, h.BILLING_SLUG, "*")):
        with open(path, encoding="utf-8") as f:
            items = json.load(f)["items"]
        for item in items:
            labels = frozenset({"project": slug, "workflow": item["name"],
                                "branch": branch,
                                "window": "last-7-days"}.items())
            metrics = item["metrics"]
            expected[("circleci_workflow_runs", labels)] = \
                float(metrics["total_runs"])
            expected[("circleci_workflow_success_ratio", labels)] = \
                float(metrics["success_rate"])
    return expected


class RetryAfterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.reference = h.reference_series(h.class_temp_dir(cls),
                                           h.demo_fixtures(),
                                           h.DEMO_PROJECTS)

    def setUp(self):
        self.workdir = h.temp_dir(self)
        self.api = h.start_fake_api(self, self.workdir, h.demo_fixtures())

    def run_exporter_with_429(self, headers):
        """Start an exporter whose first workflows request gets a 429 with
        headers, and wait until its first refresh is complete.

        Returns the exporter, the request log and the 429's log entry.
        """
        self.api.set_faults([{"path_regex": "/workflows$", "count": 1,
                              "status": 429, "body": "Rate limited.",
                              "headers": headers}])
        exporter = h.start_exporter(self, self.workdir, h.config_text(
            self.api.url, h.DEMO_PROJECTS, rate=RATE, burst=BURST,
            interval="300s", timeout="10s", max_concurrency=1,
            max_retries=2))
        exporter.wait_ready()
        exporter.wait_all_up([p["slug"] for p in h.DEMO_PROJECTS])

        # The fake API logs a request after responding, so wait until the
        # log contains every exchange the exporter counted.
        def complete_log():
            samples = exporter.scrape()
            counted = sum(h.select(samples,
                                   "circleci_exporter_api_requests_total")
                          .values())
            log = self.api.requests()
            return log if len(log) == counted else None

        log = h.wait_until(complete_log, "the request log to hold every "
                           "request the exporter counted")
        limited = [e for e in log if e["status"] == 429]
        self.assertEqual(1, len(limited),
                         "429 responses in the request log: expected 1, seen "
                         "%d" % len(limited))
        return exporter, log, limited[0]

    def check_pause(self, log, limited, pause_end):
        """No request arrives between the 429 and pause_end, and the first
        one after it repeats the request that got the 429."""
        later = [e for e in log if e["t"] > limited["t"]]
        self.assertTrue(later, "requests after the 429: expected some, "
                        "seen none")
        first = later[0]
        self.assertGreaterEqual(
            first["t"], pause_end - CLOCK_SLACK,
            "first request after the 429 (at %.3f): expected no earlier than "
            "%.3f, seen %.3f s after the 429: %s"
            % (limited["t"], pause_end, first["t"] - limited["t"],
               h.request_url(first)))
        self.assertEqual(h.request_url(limited), h.request_url(first),
                         "first request after the pause: expected the retry "
                         "of the rate-limited request")
        self.assertEqual(200, first["status"],
                         "status of the retried request")

    def check_counters(self, exporter, log, limited):
        samples = exporter.scrape()
        self.assertEqual(
            1, h.value_of(samples, "circleci_exporter_api_rate_limited_total"),
            "circleci_exporter_api_rate_limited_total")
        self.assertEqual(
            1, h.value_of(samples, "circleci_exporter_api_requests_total",
                          endpoint="workflows", code="429"),
            "circleci_exporter_api_requests_total{endpoint=\"workflows\","
            "code=\"429\"}")
        rate = h.value_of(samples, "circleci_exporter_api_request_rate")
        self.assertIsNotNone(rate, "circleci_exporter_api_request_rate: "
                             "expected a sample, seen none")
        self.assertLess(rate, RATE,
                        "circleci_exporter_api_request_rate after a 429: "
                        "expected below the configured %g, seen %g"
                        % (RATE, rate))

        # Halved by the 429, then 1.25 times higher after each run of 20
        # responses that were not 429.
        responses = len([e for e in log if e["t"] > limited["t"]])
        expected = min(RATE, RATE * RATE_DROP *
                       RECOVERY_STEP ** (responses // RECOVERY_RUN))
        self.assertAlmostEqual(
            expected, rate, places=6,
            msg="circleci_exporter_api_request_rate after %d responses "
            "since the 429: expected %g, seen %g"
            % (responses, expected, rate))

    def check_values(self, exporter):
        seen = h.circleci_series(exporter.scrape())
        h.assert_same_series(self, self.reference, seen,
                             "CircleCI series after the retry, compared with "
                             "a run without faults")
        for key, want in known_samples().items():
            self.assertEqual(want, seen.get(key),
                             "%s: expected the fixture's value %r, seen %r"
                             % (h.format_key(key), want, seen.get(key)))

    def test_retry_after_seconds(self):
        exporter, log, limited = self.run_exporter_with_429(
            {"Retry-After": "2"})
        self.check_pause(log, limited, limited["t"] + 2)
        self.check_counters(exporter, log, limited)
        self.check_values(exporter)

    def test_retry_after_http_date(self):
        # The date has whole seconds and is fixed before the exporter
        # starts. When a slow start leaves less than a second of it, the
        # case cannot show a pause and is repeated with a later date.
        for lead in (3, 10, 30):
            when = math.ceil(time.time()) + lead
            date = email.utils.formatdate(when, usegmt=True)
            exporter, log, limited = self.run_exporter_with_429(
                {"Retry-After": date})
            if when - limited["t"] >= 1:
                break
            exporter.stop()
            self.api.reset()
        else:
            self.fail("the 429 came less than 1 s before its Retry-After "
                      "date three times; last seen %.3f s before"
                      % (when - limited["t"]))
        self.check_pause(log, limited, when)
        self.check_counters(exporter, log, limited)
        self.check_values(exporter)

    def test_x_ratelimit_reset(self):
        exporter, log, limited = self.run_exporter_with_429(
            {"X-RateLimit-Reset": "2"})
        self.check_pause(log, limited, limited["t"] + 2)
        self.check_counters(exporter, log, limited)
        self.check_values(exporter)

    def test_no_hint_backs_off_one_second(self):
        exporter, log, limited = self.run_exporter_with_429({})
        self.check_pause(log, limited, limited["t"] + 1)
        self.check_counters(exporter, log, limited)
        self.check_values(exporter)


if __name__ == "__main__":
    h.main()
