# SPDX-License-Identifier: MIT
"""TLS (server.tls) and basic auth (server.basic_auth): a self-signed
certificate made with openssl for this test, a bcrypt hash made with
Python's crypt module, checks with the ssl module. /-/healthy is open;
every other path, unknown ones included, needs the credentials.
"""

import base64
import http.client
import os
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import harness  # noqa: E402

USER = "prometheus"
PASSWORD = "s3cret:with colon"
WRONG_PASSWORD = "wrong-password-7d2e"
WRONG_USER = "not-the-user-4b1c"
REALM = 'Basic realm="circleci-insights-exporter"'


def basic(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + token}


class TlsAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.temp_dir(cls)
        cls.cert, cls.key = common.make_certificate(cls.workdir)
        password_file = harness.write_file(
            os.path.join(cls.workdir, "password.bcrypt"),
            common.bcrypt_hash(PASSWORD) + "\n")
        api = harness.start_fake_api(cls, cls.workdir)
        config = common.write_config(cls.workdir, api, server="""
tls:
  cert_file: %s
  key_file: %s
basic_auth:
  username: %s
  password_file: %s
""" % (cls.cert, cls.key, USER, password_file))
        cls.exporter = harness.start_exporter(cls, cls.workdir, config)
        cls.port = cls.exporter.port
        cls.context = ssl.create_default_context(cafile=cls.cert)

        def ready():
            return cls.get("/-/ready", basic(USER, PASSWORD)).status == 200

        harness.wait_until(ready, "/-/ready over HTTPS to return 200")

    @classmethod
    def get(cls, path, headers=None, method="GET", context=None):
        conn = http.client.HTTPSConnection(
            "127.0.0.1", cls.port, timeout=common.IO_TIMEOUT,
            context=context or cls.context)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return harness.Response(r.status, r.reason, r.getheaders(),
                                    r.read())
        finally:
            conn.close()

    def assert_unauthorized(self, r):
        self.assertEqual(r.status, 401, r.body[:200])
        self.assertEqual(r.header("WWW-Authenticate"), REALM)

    # TLS

    def test_certificate_verified_with_its_ca(self):
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=common.IO_TIMEOUT) as raw:
            with self.context.wrap_socket(raw,
                                          server_hostname="127.0.0.1") as s:
                self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
                peer = s.getpeercert()
                self.assertIn(("IP Address", "127.0.0.1"),
                              peer["subjectAltName"])

    def test_unknown_certificate_rejected_by_client(self):
        # The default trust store does not hold the self-signed certificate.
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.get("/-/healthy", context=ssl.create_default_context())

    def test_old_tls_versions_refused(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(self.cert)
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as e:
            self.skipTest("this OpenSSL cannot offer TLS 1.1: %s" % e)
        with self.assertRaises((ssl.SSLError, ConnectionResetError)):
            self.get("/-/healthy", context=context)

    def test_plain_http_to_tls_port_fails(self):
        with common.connect(self.port) as s:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            response, _ = common.read_until_closed(s, timeout=10.0)
        self.assertFalse(response.startswith(b"HTTP/"),
                         "plain HTTP answered: %r" % response[:200])
        r = self.get("/-/healthy")
        self.assertEqual(r.status, 200)

    def test_tls_garbage_handshake(self):
        with common.connect(self.port) as s:
            common.send_quietly(s, b"\x16\x03\x01\x00\x05hello" + os.urandom(512))
            common.read_until_closed(s, timeout=10.0)
        self.assertTrue(self.exporter.alive())
        self.assertEqual(self.get("/-/healthy").status, 200)

    # Basic auth

    def test_healthy_open(self):
        r = self.get("/-/healthy")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"Healthy.\n")

    def test_protected_paths_need_credentials(self):
        for path in ("/metrics", "/-/ready", "/", "/no-such-path"):
            with self.subTest(path=path):
                self.assert_unauthorized(self.get(path))

    def test_wrong_password(self):
        self.assert_unauthorized(self.get("/metrics",
                                          basic(USER, WRONG_PASSWORD)))

    def test_wrong_user(self):
        self.assert_unauthorized(self.get("/metrics",
                                          basic(WRONG_USER, PASSWORD)))

    def test_password_prefix_rejected(self):
        self.assert_unauthorized(self.get("/metrics",
                                          basic(USER, PASSWORD[:-1])))

    def test_malformed_authorization_headers(self):
        for value in ("Basic", "Basic !!!not-base64!!!",
                      "Basic " + base64.b64encode(b"no-colon").decode(),
                      "Bearer abc", "basic", "Digest username=\"x\"",
                      "Basic " + base64.b64encode(b":").decode()):
            with self.subTest(value=value):
                self.assert_unauthorized(
                    self.get("/metrics", {"Authorization": value}))

    def test_right_credentials(self):
        for _ in range(3):  # later ones come from the cache
            r = self.get("/metrics", basic(USER, PASSWORD))
            self.assertEqual(r.status, 200)
            self.assertIn(b"circleci_exporter_build_info", r.body)
        self.assertEqual(self.get("/", basic(USER, PASSWORD)).status, 200)
        self.assertEqual(self.get("/no-such-path",
                                  basic(USER, PASSWORD)).status, 404)

    def test_wrong_after_right_still_rejected(self):
        self.assertEqual(self.get("/metrics", basic(USER, PASSWORD)).status,
                         200)
        self.assert_unauthorized(self.get("/metrics",
                                          basic(USER, WRONG_PASSWORD)))

    def test_method_check_before_auth(self):
        r = self.get("/metrics", method="DELETE")
        self.assertEqual(r.status, 405)

    def test_credentials_never_logged(self):
        self.get("/metrics", basic(WRONG_USER, WRONG_PASSWORD))
        self.get("/metrics", basic(USER, PASSWORD))
        log = self.exporter.stderr()
        self.assertIn("basic auth failed", log)
        for secret in (PASSWORD, WRONG_PASSWORD, WRONG_USER):
            self.assertNotIn(secret, log)

    def test_no_secrets_served(self):
        body = self.get("/metrics", basic(USER, PASSWORD)).body.decode()
        self.assertNotIn(PASSWORD, body)
        self.assertNotIn(harness.FAKE_API_TOKEN, body)
        self.assertNotIn("$2b$", body)


class TlsStartFailureTest(unittest.TestCase):
    """Bad TLS material stops the start with exit status 1 and a message
    naming the key."""

    def start_with(self, cert, key):
        workdir = harness.temp_dir(self)
        api = harness.start_fake_api(self, workdir)
        config = common.write_config(workdir, api, server="""
tls:
  cert_file: %s
  key_file: %s
""" % (cert, key))
        return harness.run_exporter(["--config.file=" + config,
                                     "--web.listen-address=127.0.0.1:0"],
                                    timeout=common.IO_TIMEOUT * 2)

    def test_key_of_other_certificate(self):
        workdir = harness.temp_dir(self)
        cert, _ = common.make_certificate(workdir, "one")
        _, other_key = common.make_certificate(workdir, "two")
        result = self.start_with(cert, other_key)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("server.tls", result.stderr)

    def test_key_not_pem(self):
        workdir = harness.temp_dir(self)
        cert, _ = common.make_certificate(workdir)
        junk = harness.write_file(os.path.join(workdir, "junk.key"),
                                  "not a key\n")
        result = self.start_with(cert, junk)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("server.tls", result.stderr)


if __name__ == "__main__":
    harness.main()
