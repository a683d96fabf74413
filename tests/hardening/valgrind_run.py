# SPDX-License-Identifier: MIT
"""Run the exporter under valgrind memcheck while checking the exact
values it serves, then stop it and require a clean valgrind report.

Two runs: the demo config (refreshing every few seconds, with a spell of
API failures and a SIGHUP reload in between; /metrics in every format and
the other endpoints), and TLS with basic auth. Each exporter must exit 0
on SIGTERM with "ERROR SUMMARY: 0 errors" and no definite leak. Called by
tests/hardening/run-valgrind.
"""

import base64
import gzip
import http.client
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import harness  # noqa: E402
import expected  # noqa: E402

# valgrind makes the exporter 20 to 50 times slower: long deadlines.
VALGRIND_TIMEOUT = 600.0

VALGRIND_ARGS = [
    "valgrind", "--tool=memcheck", "--leak-check=full",
    "--errors-for-leak-kinds=definite", "--error-exitcode=1",
    "--num-callers=30",
]

FORMATS = [
    {"Accept-Encoding": "identity"},
    {"Accept-Encoding": "gzip"},
    {"Accept": "application/openmetrics-text;version=1.0.0",
     "Accept-Encoding": "identity"},
    {"Accept": "application/openmetrics-text;version=1.0.0",
     "Accept-Encoding": "gzip"},
]


class ValgrindExporter(harness.Exporter):
    """The exporter started under valgrind memcheck; the report goes to
    valgrind.log in workdir."""

    def start(self):
        self.valgrind_log = os.path.join(self.workdir, "valgrind.log")
        cmd = VALGRIND_ARGS + ["--log-file=" + self.valgrind_log,
                               harness.exporter_binary(),
                               "--config.file=" + self.config,
                               "--web.listen-address=127.0.0.1:0"] + self.args
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=err,
                                         env=harness.make_env(self.env))
        match = self.wait_for_log(r"msg=listening .*\bport=(\d+)",
                                  timeout=VALGRIND_TIMEOUT)
        self.port = int(match.group(1))
        return self

    def stop_and_check(self, test):
        """SIGTERM, wait, and check the exit status and the report."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=VALGRIND_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=60)
            test.fail("the exporter did not stop within %.0f s of SIGTERM"
                      % VALGRIND_TIMEOUT)
        report = common.read_text(self.valgrind_log)
        test.assertEqual(code, 0, "exit status %s; valgrind report:\n%s"
                         % (code, report))
        test.assertRegex(report, r"ERROR SUMMARY: 0 errors", report)
        test.assertRegex(report, r"definitely lost: 0 bytes|"
                         r"All heap blocks were freed", report)
        print("valgrind: %s" % " / ".join(
            re.findall(r"(?:ERROR SUMMARY|definitely lost|in use at exit)"
                       r": [^\n(]*", report)), file=sys.stderr)


def circleci_samples(text):
    return expected.circleci_only(harness.parse_samples(text, as_text=True))


class DemoUnderValgrindTest(unittest.TestCase):
    def test_demo_values_formats_reload_and_faults(self):
        workdir = harness.temp_dir(self)
        api = harness.start_fake_api(self, workdir)
        config = harness.write_file(
            os.path.join(workdir, "demo.yml"),
            harness.derive_config(harness.demo_config_text(),
                                  interval="3s"))
        exporter = ValgrindExporter(workdir, config, env=harness.demo_env(api))
        self.addCleanup(exporter.stop)
        exporter.start()
        exporter.wait_ready(timeout=VALGRIND_TIMEOUT)
        want = expected.expected_samples(harness.fixtures_dir())
        self.assertTrue(want)

        def exact_values():
            return circleci_samples(exporter.scrape_text()) == want

        harness.wait_until(exact_values, "the exact demo values",
                           timeout=VALGRIND_TIMEOUT)
        self.scrape_every_way(exporter, want)

        # A spell of failures: the values stay, the error paths run.
        api.set_faults([{"path_regex": "/workflows$", "status": 500,
                         "body": {"message": "Internal Server Error"}},
                        {"path_regex": "/jobs$", "drop": True},
                        {"path_prefix": "/project/", "garbage": True}])
        exporter.wait_for_log(r"msg=\"request failed\"",
                              timeout=VALGRIND_TIMEOUT)
        self.assertEqual(circleci_samples(exporter.scrape_text()), want)
        api.clear_faults()

        exporter.proc.send_signal(signal.SIGHUP)
        exporter.wait_for_log(r"msg=\"config reloaded\"",
                              timeout=VALGRIND_TIMEOUT)
        harness.wait_until(exact_values, "the exact values after the reload",
                           timeout=VALGRIND_TIMEOUT)
        self.scrape_every_way(exporter, want)
        exporter.stop_and_check(self)

    def scrape_every_way(self, exporter, want):
        for headers in FORMATS:
            r = exporter.scrape(headers)
            body = r.body
            if r.header("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            text = body.decode("utf-8")
            if "openmetrics" in headers.get("Accept", ""):
                self.assertTrue(text.endswith("# EOF\n"))
            self.assertEqual(circleci_samples(text), want, headers)
        r = exporter.get("/metrics", method="HEAD")
        self.assertEqual(r.status, 200)
        for path, status in (("/", 200), ("/-/healthy", 200),
                             ("/-/ready", 200), ("/nope", 404)):
            self.assertEqual(exporter.get(path).status, status, path)
        self.assertEqual(exporter.get("/metrics", method="DELETE").status, 405)


class TlsAuthUnderValgrindTest(unittest.TestCase):
    def test_tls_and_basic_auth(self):
        workdir = harness.temp_dir(self)
        cert, key = common.make_certificate(workdir)
        password_file = harness.write_file(
            os.path.join(workdir, "password.bcrypt"),
            common.bcrypt_hash("pw") + "\n")
        api = harness.start_fake_api(self, workdir)
        config = common.write_config(workdir, api, server="""
tls:
  cert_file: %s
  key_file: %s
basic_auth:
  username: prom
  password_file: %s
""" % (cert, key, password_file))
        exporter = ValgrindExporter(workdir, config)
        self.addCleanup(exporter.stop)
        exporter.start()
        context = ssl.create_default_context(cafile=cert)

        def get(path, password=None):
            headers = {}
            if password is not None:
                headers["Authorization"] = "Basic " + base64.b64encode(
                    ("prom:" + password).encode()).decode()
            conn = http.client.HTTPSConnection(
                "127.0.0.1", exporter.port, context=context,
                timeout=VALGRIND_TIMEOUT)
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                return r.status, r.read()
            finally:
                conn.close()

        harness.wait_until(lambda: get("/-/ready", "pw")[0] == 200,
                           "/-/ready over HTTPS", timeout=VALGRIND_TIMEOUT)
        for _ in range(3):
            self.assertEqual(get("/metrics")[0], 401)
            self.assertEqual(get("/metrics", "wrong")[0], 401)
            status, body = get("/metrics", "pw")
            self.assertEqual(status, 200)
            self.assertIn(b"circleci_exporter_build_info", body)
        self.assertEqual(get("/-/healthy")[0], 200)
        exporter.stop_and_check(self)


if __name__ == "__main__":
    start = time.monotonic()
    try:
        harness.main()
    finally:
        print("valgrind run: %.0f s" % (time.monotonic() - start),
              file=sys.stderr)
