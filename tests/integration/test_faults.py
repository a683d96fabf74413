# SPDX-License-Identifier: MIT
"""API faults after a good first refresh: the exporter stays up, keeps every
CircleCI value, counts the failures, marks the projects down and recovers
when the faults end. A project that keeps failing is logged once."""

import os
import re
import sys
import unittest

# Keep the source tree free of __pycache__ folders.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import expected  # noqa: E402
import harness  # noqa: E402

# Each case: name, fault rule for every API path, the request log's name of
# the fault kind, and the counter that must grow as (name, labels).
FAULT_CASES = [
    ("status 500",
     {"status": 500, "body": {"message": "Internal server error"}},
     "status",
     ("circleci_exporter_api_requests_total", {"code": "500"})),
    ("truncated body",
     {"truncate": 20},
     "truncate",
     None),
    # Retry-After keeps each pause at 1 s. Without it the exporter doubles
    # its pause on every 429, up to 300 s, and one case would take minutes.
    ("429 with a plain-text body",
     {"status": 429, "body": "Rate limited.",
      "headers": {"Retry-After": "1"}},
     "status",
     ("circleci_exporter_api_requests_total", {"code": "429"})),
    ("HTML with status 200",
     {"garbage": True},
     "garbage",
     ("circleci_exporter_api_parse_errors_total", {})),
]


def fast_config(workdir, extra_projects=()):
    """config/demo.yml refreshing every 2 s without retries."""
    text = harness.derive_config(harness.demo_config_text(),
                                 interval="2s", max_retries="0")
    for slug in extra_projects:
        text = text.rstrip("\n") + "\n  - slug: %s\n" % slug
    return harness.write_file(os.path.join(workdir, "fast.yml"), text)


def counter_sum(samples, name, labels):
    return sum(harness.select(samples, name, **labels).values())


def project_up(samples):
    return {slug: harness.value_of(samples, "circleci_exporter_project_up",
                                   project=slug)
            for slug in expected.DEMO_SLUGS}


class FaultsTest(unittest.TestCase):
    def setUp(self):
        self.workdir = harness.temp_dir(self)
        self.api = harness.start_fake_api(self, self.workdir)

    def start_exporter(self, config):
        exporter = harness.start_exporter(self, self.workdir, config,
                                          env=harness.demo_env(self.api))
        exporter.wait_ready()
        return exporter

    def scrape(self, exporter):
        self.assertTrue(exporter.alive(), "expected the exporter to run; "
                        "stderr:\n%s" % exporter.stderr())
        return exporter.scrape_text()

    def wait_all_up(self, exporter, up):
        want = {slug: up for slug in expected.DEMO_SLUGS}
        harness.wait_for(
            lambda: project_up(harness.parse_samples(self.scrape(exporter))),
            lambda seen: seen == want,
            "circleci_exporter_project_up %s for every demo project" % up)

    def wait_fault_hits(self, start, kind):
        def hits():
            log = self.api.request_log()[start:]
            return len([e for e in log if e["fault"] == kind])

        harness.wait_for(hits, lambda n: n >= 3,
                         "3 requests that got the %s fault" % kind)

    def requests_per_project(self, start):
        paths = [e["path"] + "/" for e in self.api.request_log()[start:]]
        return {slug: len([p for p in paths if "/" + slug + "/" in p])
                for slug in expected.DEMO_SLUGS}

    def test_faults_keep_values(self):
        exporter = self.start_exporter(fast_config(self.workdir))
        want = expected.expected_samples(harness.fixtures_dir())
        self.wait_all_up(exporter, 1.0)
        before = harness.parse_samples(self.scrape(exporter), as_text=True)
        self.assertEqual(expected.circleci_only(before), want,
                         "expected the fixtures' values after the first "
                         "refresh")

        for name, rule, kind, counter in FAULT_CASES:
            with self.subTest(fault=name):
                self.check_fault(exporter, rule, kind, counter, want)

    def check_fault(self, exporter, rule, kind, counter, want):
        start = len(self.api.request_log())
        baseline = harness.parse_samples(self.scrape(exporter))
        self.api.set_faults([rule])
        try:
            self.wait_fault_hits(start, kind)
            try:
                self.wait_all_up(exporter, 0.0)
            except AssertionError as e:
                counts = self.requests_per_project(start)
                message = "%s\nrequests per project since the fault was " \
                    "set: %s" % (e, counts)
                raise AssertionError(message) from None

            text = self.scrape(exporter)
            samples = harness.parse_samples(text)
            self.assertEqual(
                expected.circleci_only(harness.parse_samples(
                    text, as_text=True)), want,
                "expected every CircleCI sample unchanged during the fault")
            if counter is not None:
                name, labels = counter
                old = counter_sum(baseline, name, labels)
                new = counter_sum(samples, name, labels)
                self.assertGreater(new, old, "expected %s%s to grow from "
                                   "%s, seen %s" % (name, labels, old, new))
            total = "circleci_exporter_api_requests_total"
            self.assertGreater(counter_sum(samples, total, {}),
                               counter_sum(baseline, total, {}))
        finally:
            self.api.clear_faults()

        self.wait_all_up(exporter, 1.0)
        self.assertEqual(
            expected.circleci_only(harness.parse_samples(
                self.scrape(exporter), as_text=True)), want,
            "expected the fixtures' values after the fault ended")

    def test_failing_project_logged_once(self):
        gone = expected.GONE_SLUG
        exporter = self.start_exporter(
            fast_config(self.workdir, extra_projects=[gone]))

        # Each finished refresh moves the project's next refresh time, so
        # three distinct values mean three failed refreshes at least.
        seen = set()

        def next_refresh_values():
            samples = harness.parse_samples(self.scrape(exporter))
            value = harness.value_of(
                samples, "circleci_exporter_next_refresh_timestamp_seconds",
                project=gone)
            up = harness.value_of(samples, "circleci_exporter_project_up",
                                  project=gone)
            self.assertNotEqual(up, 1.0, "expected %s down" % gone)
            if value is not None and up == 0.0:
                seen.add(value)
            return len(seen) >= 4

        harness.wait_until(next_refresh_values,
                           "4 finished refreshes of %s" % gone)
        gone_requests = [e for e in self.api.request_log()
                         if "/" + gone in e["path"]]
        self.assertGreaterEqual(len(gone_requests), 3,
                                "expected a request of %s per refresh"
                                % gone)
        statuses = {e["status"] for e in gone_requests}
        self.assertEqual(statuses, {404})

        pattern = re.compile(r"\blevel=warn\b.*\bproject=%s(\s|$)"
                             % re.escape(gone))
        lines = [line for line in exporter.stderr().splitlines()
                 if pattern.search(line)]
        self.assertEqual(len(lines), 1, "expected one warn line for %s, "
                         "seen %d:\n%s" % (gone, len(lines),
                                           "\n".join(lines)))
        line = lines[0]
        self.assertRegex(line, r"\bendpoint=\S")
        self.assertRegex(line, r"\bstatus=\"?404\b")
        self.assertIn("Project not found", line)


if __name__ == "__main__":
    harness.main()
