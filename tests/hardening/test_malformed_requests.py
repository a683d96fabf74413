# SPDX-License-Identifier: MIT
"""Malformed and unusual requests: garbage, HTTP/0.9, oversized request
lines and headers, wrong methods, odd URLs, bodies on GET, pipelining.
Each case checks the response (or that the connection was closed), then
that the exporter is still alive and responds to a normal scrape.
"""

import base64
import http.client
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import harness  # noqa: E402

MAX_REQUEST_BYTES = 4096
CLIENT = "127.0.0.60"


class _KeptStream:
    """A stream whose close() does nothing: http.client closes the stream
    of a response it has read, and the next response is on it too."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def close(self):
        pass


class _BufferedSocket:
    """Lets http.client read several responses from one buffered stream."""

    def __init__(self, stream):
        self.stream = _KeptStream(stream)

    def makefile(self, *args, **kwargs):
        return self.stream


class MalformedRequestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A short idle timeout ends requests that never complete.
        _, _, cls.exporter = common.start_stack(cls, server="""
max_connections: 64
max_connections_per_ip: 32
idle_timeout: 3s
max_request_bytes: %d
""" % MAX_REQUEST_BYTES)
        cls.port = cls.exporter.port

    def tearDown(self):
        self.assertTrue(self.exporter.alive(), "the exporter exited")
        response = common.scrape_from(CLIENT, self.port)
        self.assertEqual(common.status_of(response), 200,
                         "no normal scrape after the case: %r" % response[:300])

    def exchange(self, data):
        """Send data on a new connection; returns (response, closed)."""
        with common.connect(self.port, CLIENT) as s:
            common.send_quietly(s, data)
            return common.read_until_closed(s)

    def assert_rejected(self, data, statuses):
        """The response is one of statuses, or none at all with the
        connection closed."""
        response, closed = self.exchange(data)
        status = common.status_of(response)
        if status is None:
            self.assertTrue(closed, "no response and not closed: %r"
                            % response[:200])
            self.assertEqual(response, b"", "not an HTTP response: %r"
                             % response[:200])
        else:
            self.assertIn(status, statuses, response[:300])
        return response

    # Garbage and old protocols

    def test_binary_garbage(self):
        self.assert_rejected(b"\x00\x01\x02\xff\xfe garbage\r\n\r\n", {400})

    def test_text_garbage(self):
        self.assert_rejected(b"HELLO\r\n\r\n", {400})

    def test_only_line_feeds(self):
        self.assert_rejected(b"\n\n\n\n", {400})

    def test_http_09_request(self):
        self.assert_rejected(b"GET /metrics\r\n\r\n", {400, 505})

    def test_unknown_http_version(self):
        self.assert_rejected(b"GET /metrics HTTP/9.9\r\n\r\n", {400, 505})

    def test_header_without_colon(self):
        self.assert_rejected(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
            {400})

    def test_nul_in_header_value(self):
        self.assert_rejected(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n"
            b"Connection: close\r\n\r\n", {200, 400})

    def test_bad_content_length(self):
        self.assert_rejected(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            {400, 413})

    # Sizes beyond server.max_request_bytes

    def test_many_headers(self):
        headers = b"".join(b"X-Filler-%03d: %s\r\n" % (i, b"v" * 80)
                           for i in range(100))
        self.assert_rejected(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" +
                             headers + b"\r\n", {413, 431})

    def test_header_line_100k(self):
        self.assert_rejected(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " +
                             b"a" * 100000 + b"\r\n\r\n", {413, 431})

    def test_request_line_long_url(self):
        self.assert_rejected(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n"
                             b"Host: x\r\n\r\n", {404, 413, 414, 431})

    def test_authorization_header_huge(self):
        token = base64.b64encode(b"user:" + b"p" * 50000)
        self.assert_rejected(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                             b"Authorization: Basic " + token + b"\r\n\r\n",
                             {413, 431})

    # Methods

    def test_methods_not_allowed(self):
        for method in ("PUT", "DELETE", "OPTIONS", "TRACE", "POST", "PATCH"):
            with self.subTest(method=method):
                response = self.assert_rejected(
                    b"%s /metrics HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 0\r\n\r\n" % method.encode(), {405})
                self.assertEqual(common.header_of(response, "Allow"),
                                 "GET, HEAD")

    def test_post_with_large_body(self):
        # Rejected before the body is read, and the connection closed.
        response, closed = self.exchange(
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
            b"\r\n" + b"x" * 65536)
        self.assertEqual(common.status_of(response), 405, response[:300])
        self.assertTrue(closed)

    def test_connect_method(self):
        self.assert_rejected(b"CONNECT 127.0.0.1:443 HTTP/1.1\r\n"
                             b"Host: 127.0.0.1:443\r\n\r\n", {400, 405})

    def test_lowercase_method(self):
        self.assert_rejected(b"get /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                             {400, 405})

    # URLs

    def test_odd_paths_not_found(self):
        for path in ("/metrics%00", "/metrics%00.txt", "/../../etc/passwd",
                     "/metrics/../metrics", "//metrics", "/%ff%fe",
                     "/metrics/", "/METRICS", "/-/healthy/../ready",
                     "/%2e%2e/%2e%2e/etc/passwd"):
            with self.subTest(path=path):
                response = self.assert_rejected(
                    b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    % path.encode(), {400, 404})
                self.assertNotIn(b"root:", response)

    def test_query_strings_ignored(self):
        for query in ("?a=%00", "?%zz", "?" + "q" * 1000, "?a=1&a=2&&=",
                      "?circle-token=x"):
            with self.subTest(query=query):
                self.assert_rejected(
                    b"GET /metrics%s HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n" % query.encode(), {200, 400})

    def test_absolute_form_url(self):
        self.assert_rejected(b"GET http://127.0.0.1/metrics HTTP/1.1\r\n"
                             b"Host: x\r\nConnection: close\r\n\r\n",
                             {200, 400, 404})

    # Bodies on GET

    def test_small_body_on_get_ignored(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=common.IO_TIMEOUT,
                                          source_address=(CLIENT, 0))
        try:
            for _ in range(2):
                conn.request("GET", "/-/healthy", body=b"x" * 100)
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
        finally:
            conn.close()

    def test_large_body_on_get_rejected(self):
        response, closed = self.exchange(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % (MAX_REQUEST_BYTES * 10) + b"x" * (MAX_REQUEST_BYTES * 10))
        self.assertEqual(common.status_of(response), 413, response[:300])
        self.assertTrue(closed)

    def test_large_chunked_body_on_get_closed(self):
        chunk = b"%x\r\n%s\r\n" % (1000, b"y" * 1000)
        response, closed = self.exchange(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 20 + b"0\r\n\r\n")
        self.assertIn(common.status_of(response), (None, 413), response[:300])
        self.assertTrue(closed)

    def test_small_chunked_body_on_get_ignored(self):
        response, _ = self.exchange(
            b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(common.status_of(response), 200, response[:300])

    # Several requests on one connection

    def test_pipelined_requests(self):
        with common.connect(self.port, CLIENT) as s:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                      b"Accept-Encoding: identity\r\n\r\n"
                      b"GET /nope HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            stream = s.makefile("rb")
            seen = []
            for method in ("GET", "HEAD", "GET", "GET"):
                r = http.client.HTTPResponse(_BufferedSocket(stream),
                                             method=method)
                r.begin()
                body = r.read()
                seen.append(r.status)
                if method == "GET" and r.status == 200 and len(seen) == 3:
                    self.assertIn(b"circleci_exporter_build_info", body)
            stream.close()
        self.assertEqual(seen, [200, 200, 200, 404])

    def test_many_requests_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=common.IO_TIMEOUT,
                                          source_address=(CLIENT, 0))
        try:
            for i in range(50):
                conn.request("GET", "/metrics" if i % 5 == 0 else "/-/ready")
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
        finally:
            conn.close()

    def test_client_closes_mid_answer(self):
        # Ask for the metrics and close without reading them.
        for _ in range(20):
            with common.connect(self.port, CLIENT) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                          b"Accept-Encoding: identity\r\n\r\n")


if __name__ == "__main__":
    harness.main()
