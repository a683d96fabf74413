# SPDX-License-Identifier: MIT
"""SIGHUP reloads the config; SIGTERM stops at once.

A reload that adds one project and removes another: the new project's
series appear, the removed one's go, and the kept projects keep their
values and schedule. The fake API serves changed values by then, so a
refresh on reload would show. An invalid config on SIGHUP is rejected
with a log line and changes nothing. SIGTERM while requests hang in the
fake API ends the exporter with status 0 within 3 s and closes its port.
"""

import signal
import subprocess
import time
import unittest

import schedharness as h

KEPT = [h.DOCS_SLUG, h.BILLING_SLUG]
ADDED = h.PAYMENTS_SLUG
REMOVED = h.EMPTY_SLUG
HANG_MS = 30000
STOP_DEADLINE = 3.0
# Series that show a project's schedule and its last refresh.
SCHEDULE_SERIES = (
    "circleci_exporter_next_refresh_timestamp_seconds",
    "circleci_exporter_last_refresh_timestamp_seconds",
    "circleci_exporter_project_up",
)


def demo_project(slug):
    return next(p for p in h.DEMO_PROJECTS if p["slug"] == slug)


def series_of(samples, slugs):
    return {k: v for k, v in samples.items()
            if dict(k[1]).get("project") in slugs}


class SignalsTest(unittest.TestCase):

    def write_config(self, slugs):
        # A long interval: no refresh of a kept project during the test,
        # and a timeout longer than the requests that hang.
        h.write_file(self.exporter.config, h.config_text(
            self.api.url, [demo_project(s) for s in slugs],
            interval="600s", timeout="60s"))

    def scrape_next_refresh(self, slugs):
        samples = self.exporter.scrape()
        return {s: h.value_of(
            samples, "circleci_exporter_next_refresh_timestamp_seconds",
            project=s) for s in slugs}

    def test_reload_and_stop(self):
        workdir = h.temp_dir(self)
        reference = h.reference_series(workdir, h.demo_fixtures(),
                                       h.DEMO_PROJECTS)
        self.api = h.start_fake_api(self, workdir, h.demo_fixtures())
        self.exporter = h.start_exporter(self, workdir, h.config_text(
            self.api.url, [demo_project(s) for s in KEPT + [REMOVED]],
            interval="600s", timeout="60s"))
        self.exporter.wait_ready()
        before = self.exporter.wait_all_up(KEPT + [REMOVED])
        h.assert_same_series(self, series_of(reference, KEPT + [REMOVED]),
                             h.circleci_series(before),
                             "series before the reload")

        # From now on a refresh of the kept projects would change values.
        self.api.set_fixtures(h.demo_fixtures("demo-changed"))
        self.write_config(KEPT + [ADDED])
        self.exporter.send_signal(signal.SIGHUP)
        self.exporter.wait_for_log(r"msg=\"?config reloaded")
        after = self.exporter.wait_all_up(KEPT + [ADDED])
        self.check_reload(reference, before, after)

        # An invalid config is rejected and changes nothing.
        h.write_file(self.exporter.config, h.config_text(
            self.api.url, [{"slug": "not-a-slug"}], interval="600s"))
        self.exporter.send_signal(signal.SIGHUP)
        self.exporter.wait_for_log(r"level=error .*config reload failed")
        rejected = self.exporter.scrape()
        h.assert_same_series(self, h.circleci_series(after),
                             h.circleci_series(rejected),
                             "series after a rejected reload")
        self.check_same_schedule(after, rejected, KEPT + [ADDED],
                                 "after a rejected reload")
        self.assertEqual(200, h.http_request(self.exporter.port,
                                             "/-/ready")[0],
                         "/-/ready after a rejected reload")

        self.stop_with_requests_in_flight()

    def check_reload(self, reference, before, after):
        seen = h.circleci_series(after)
        self.assertEqual({}, series_of(after, [REMOVED]),
                         "series of the removed project %s" % REMOVED)
        h.assert_same_series(self, series_of(reference, [ADDED]),
                             series_of(seen, [ADDED]),
                             "series of the added project %s" % ADDED)
        h.assert_same_series(
            self, series_of(h.circleci_series(before), KEPT),
            series_of(seen, KEPT),
            "series of the kept projects: expected the values from before "
            "the reload")
        self.check_same_schedule(before, after, KEPT, "after the reload")
        self.assertEqual(200, h.http_request(self.exporter.port,
                                             "/-/ready")[0],
                         "/-/ready after the reload")

    def check_same_schedule(self, old, new, slugs, when):
        """The schedule series of slugs are the same in new as in old."""
        for name in SCHEDULE_SERIES:
            for slug in slugs:
                want = h.value_of(old, name, project=slug)
                got = h.value_of(new, name, project=slug)
                self.assertIsNotNone(want, "%s{project=\"%s\"}: expected "
                                     "a sample" % (name, slug))
                self.assertEqual(want, got,
                                 "%s{project=\"%s\"} %s: expected %r as "
                                 "before, seen %r"
                                 % (name, slug, when, want, got))

    def stop_with_requests_in_flight(self):
        self.api.set_faults([{"path_prefix": "/", "delay_ms": HANG_MS}])
        self.write_config(KEPT + [ADDED, REMOVED])
        self.exporter.send_signal(signal.SIGHUP)

        # The fake API counts a hit when a request arrives, before the
        # delay.
        h.wait_until(lambda: self.api.faults()[0]["hits"] >= 1,
                     "a request hanging in the fake API")
        port = self.exporter.port
        proc = self.exporter.proc
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.fail("exit after SIGTERM with a request in flight: expected "
                      "within %g s, still running after %.1f s"
                      % (STOP_DEADLINE, time.monotonic() - sent))
        self.assertEqual(0, status, "exit status after SIGTERM")
        self.assertTrue(h.port_is_closed(port),
                        "port %d after the exporter exited: expected closed"
                        % port)


if __name__ == "__main__":
    h.main()
