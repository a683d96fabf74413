# SPDX-License-Identifier: MIT
"""The HTTP endpoints: health and readiness, the landing page, errors,
HEAD, gzip, OpenMetrics negotiation and keep-alive."""

import http.client
import os
import socket
import sys
import unittest
import zlib

# Keep the source tree free of __pycache__ folders.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import expected  # noqa: E402
import harness  # noqa: E402

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0"
# The Accept header of Prometheus 2.42's scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,"
    "application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")

# How long the fake API delays every request while the test checks that
# /-/ready is 503. The test raises the exporter's timeout above it.
HOLD_MS = 20000


def circleci_text(text):
    """The HELP, TYPE and sample lines of the CircleCI families."""
    return [line for family, line in harness.parse_exposition(text).lines
            if expected.is_circleci_metric(family)]


def raw_exchange(port, request):
    """Send raw request bytes on a new connection; return everything the
    server sends until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=harness.HTTP_TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


class ReadinessTest(unittest.TestCase):
    def test_ready_only_after_first_refresh(self):
        workdir = harness.temp_dir(self)
        api = harness.start_fake_api(self, workdir)
        api.set_faults([{"delay_ms": HOLD_MS,
                         "comment": "hold back the first refresh"}])
        text = harness.derive_config(harness.demo_config_text(),
                                     timeout="120s")
        config = harness.write_file(os.path.join(workdir, "slow.yml"), text)
        exporter = harness.start_exporter(self, workdir, config,
                                          env=harness.demo_env(api))

        self.assertEqual(exporter.get("/-/healthy").status, 200)
        harness.wait_for(lambda: api.faults()[0]["hits"], lambda n: n > 0,
                         "a request held by the fake API")
        ready = exporter.get("/-/ready")
        self.assertEqual(ready.status, 503, "expected /-/ready 503 while "
                         "the first refresh waits, seen %d" % ready.status)
        self.assertEqual(exporter.get("/-/healthy").status, 200)

        api.clear_faults()
        exporter.wait_ready()
        self.assertEqual(exporter.get("/-/healthy").status, 200)


class EndpointsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        workdir = harness.temp_dir(cls)
        api = harness.start_fake_api(cls, workdir)
        cls.exporter = harness.start_exporter(
            cls, workdir, harness.demo_config_path(),
            env=harness.demo_env(api))
        cls.exporter.wait_ready()

    def test_healthy(self):
        r = self.exporter.get("/-/healthy")
        self.assertEqual(r.status, 200)

    def test_ready(self):
        self.assertEqual(self.exporter.get("/-/ready").status, 200)

    def test_landing_page_links_metrics(self):
        r = self.exporter.get("/")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("text/html"),
                        "expected text/html, seen %r"
                        % r.header("Content-Type"))
        self.assertIn('href="/metrics"', r.text)

    def test_unknown_path_404(self):
        for path in ("/nope", "/metrics/extra", "/-/unknown"):
            with self.subTest(path=path):
                self.assertEqual(self.exporter.get(path).status, 404)

    def test_post_metrics_405_with_allow(self):
        r = self.exporter.get("/metrics", method="POST")
        self.assertEqual(r.status, 405)
        allow = r.header("Allow")
        self.assertIsNotNone(allow, "expected an Allow header")
        methods = {m.strip() for m in allow.split(",")}
        self.assertIn("GET", methods)
        self.assertIn("HEAD", methods)

    def test_head_metrics_has_length_and_no_body(self):
        raw = raw_exchange(self.exporter.port,
                           b"HEAD /metrics HTTP/1.1\r\n"
                           b"Host: 127.0.0.1\r\n"
                           b"Connection: close\r\n\r\n")
        head, sep, body = raw.partition(b"\r\n\r\n")
        self.assertEqual(sep, b"\r\n\r\n", "expected a complete header, "
                         "seen %r" % raw[:200])
        lines = head.decode("latin-1").split("\r\n")
        self.assertRegex(lines[0], r"^HTTP/1\.1 200 ")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (ln.partition(":") for ln in lines[1:])}
        self.assertIn("content-length", headers)
        self.assertGreater(int(headers["content-length"]), 0)
        self.assertEqual(body, b"", "expected no body after HEAD, seen %d "
                         "bytes" % len(body))

    def test_gzip_same_text_one_member(self):
        plain = self.exporter.scrape({"Accept-Encoding": "identity"})
        gz = self.exporter.scrape({"Accept-Encoding": "gzip"})
        self.assertEqual(gz.header("Content-Encoding"), "gzip")
        self.assertEqual(gz.header("Content-Type"), TEXT_TYPE)

        d = zlib.decompressobj(31)
        text = (d.decompress(gz.body) + d.flush()).decode("utf-8")
        self.assertTrue(d.eof, "expected a complete gzip member")
        self.assertEqual(d.unused_data, b"", "expected one gzip member, "
                         "seen %d bytes after the first" % len(d.unused_data))
        self.assertTrue(text.endswith("\n"))
        harness.parse_exposition(text)
        self.assertEqual(circleci_text(text), circleci_text(plain.text),
                         "expected the gzip response's CircleCI lines to equal "
                         "the plain response's")
        self.assertGreater(len(circleci_text(text)), 0)
        names = {s.name for s in harness.parse_exposition(text).samples}
        self.assertIn("circleci_exporter_series", names)
        self.assertIn("process_cpu_seconds_total", names)

    def test_openmetrics_negotiated(self):
        r = self.exporter.scrape({"Accept": PROMETHEUS_ACCEPT,
                                  "Accept-Encoding": "identity"})
        content_type = r.header("Content-Type", "")
        self.assertTrue(content_type.startswith(OPENMETRICS_TYPE),
                        "expected Content-Type %s, seen %r"
                        % (OPENMETRICS_TYPE, content_type))
        self.assertTrue(r.text.endswith("# EOF\n"),
                        "expected the response to end with '# EOF\\n', seen "
                        "%r" % r.text[-40:])
        exposition = harness.parse_exposition(r.text)
        counters = [f for f in exposition.families.values()
                    if f.type == "counter"]
        self.assertIn("circleci_exporter_api_requests",
                      [f.name for f in counters])
        for family in counters:
            with self.subTest(family=family.name):
                self.assertFalse(family.name.endswith("_total"),
                                 "expected the counter declared without "
                                 "_total")
                for sample in family.samples:
                    self.assertIn(sample.name, (family.name + "_total",
                                                family.name + "_created"))

    def test_openmetrics_same_circleci_samples(self):
        text = self.exporter.scrape_text()
        om = self.exporter.scrape({"Accept": PROMETHEUS_ACCEPT,
                                   "Accept-Encoding": "identity"}).text
        self.assertEqual(
            expected.circleci_only(harness.parse_samples(om, as_text=True)),
            expected.circleci_only(harness.parse_samples(text, as_text=True)))

    def test_plain_accept_gets_text(self):
        for accept in (None, "text/plain", "*/*",
                       "text/plain;version=0.0.4;q=0.5"):
            with self.subTest(accept=accept):
                headers = {"Accept-Encoding": "identity"}
                if accept:
                    headers["Accept"] = accept
                r = self.exporter.scrape(headers)
                self.assertEqual(r.header("Content-Type"), TEXT_TYPE)
                self.assertFalse(r.text.endswith("# EOF\n"))

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.exporter.port,
                                          timeout=harness.HTTP_TIMEOUT)
        self.addCleanup(conn.close)
        conn.request("GET", "/metrics")
        first = conn.getresponse()
        first.read()
        self.assertEqual(first.status, 200)
        self.assertFalse(first.will_close, "expected the server to keep "
                         "the connection open")
        local = conn.sock.getsockname()

        conn.request("GET", "/-/healthy")
        second = conn.getresponse()
        second.read()
        self.assertEqual(second.status, 200)
        self.assertIsNotNone(conn.sock, "expected the connection open")
        self.assertEqual(conn.sock.getsockname(), local,
                         "expected the second request on the same "
                         "connection")


if __name__ == "__main__":
    harness.main()
