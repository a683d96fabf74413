# SPDX-License-Identifier: MIT
"""Helpers of the hardening tests: configs with server limits, raw sockets
from chosen loopback source addresses, TLS material and bcrypt hashes.

The servers are started through tests/integration/harness.py, so every
process is stopped by its PID when a test ends and every wait has a
deadline. Python standard library only.
"""

import os
import select
import socket
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "integration"))

import harness  # noqa: E402

# The deadline of one socket operation. Generous on purpose: the tests run
# two at a time on a loaded 2-core machine and never assert speed.
IO_TIMEOUT = 30.0

CONFIG_TEMPLATE = """\
circleci:
  url: %(api_url)s
%(token_lines)s
  timeout: 5s
  max_retries: 1
  rate_limit:
    requests_per_second: 50
    burst: 20
server:
  listen_address: "127.0.0.1:0"
%(server)s
defaults:
  interval: 60s
projects:
  - slug: gh/CircleCI-Public/api-preview-docs
  - slug: gh/acme/empty
"""


def indent(text, spaces=2):
    pad = " " * spaces
    return "\n".join(pad + line if line else line
                     for line in text.strip("\n").split("\n"))


def write_config(workdir, api, server="", token_lines=None,
                 name="config.yml"):
    """Write a config polling two demo projects of api; server is YAML
    text of extra keys under server:, token_lines replaces the token."""
    if token_lines is None:
        token_lines = "  token: " + harness.FAKE_API_TOKEN
    text = CONFIG_TEMPLATE % {"api_url": api.api_url,
                              "token_lines": token_lines,
                              "server": indent(server) if server else ""}
    return harness.write_file(os.path.join(workdir, name), text)


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def start_stack(test, server="", args=(), env=None, ready=True):
    """Start the fake API and an exporter with the given server keys.
    Returns (workdir, api, exporter); all stop when test ends."""
    workdir = harness.temp_dir(test)
    api = harness.start_fake_api(test, workdir)
    config = write_config(workdir, api, server)
    exporter = harness.start_exporter(test, workdir, config, args=args,
                                      env=env)
    if ready:
        exporter.wait_ready()
    return workdir, api, exporter


# Raw sockets


def connect(port, source=None, timeout=IO_TIMEOUT):
    """A TCP connection to 127.0.0.1:port, from source (an address of
    127.0.0.0/8) when given."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if source:
            s.bind((source, 0))
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    return s


def send_quietly(sock, data):
    """Send data; returns False when the server already closed (a server
    may stop reading and close as soon as a request is too large)."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def read_until_closed(sock, timeout=IO_TIMEOUT, limit=1 << 20):
    """Read until the server closes, limit bytes arrive or timeout passes.
    Returns (data, closed)."""
    deadline = time.monotonic() + timeout
    chunks = []
    size = 0
    while size < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return b"".join(chunks), False
        except ConnectionResetError:
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def status_of(data):
    """The status code of the first HTTP response in data, or None."""
    if not data.startswith(b"HTTP/1."):
        return None
    parts = data.split(b"\r\n", 1)[0].split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def header_of(data, name):
    """The value of header name in the first response of data, or None."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def closed_by_server(sock, timeout):
    """Whether the server closes sock (EOF or reset) within timeout
    seconds; data it sends first is read and dropped."""
    _, closed = read_until_closed(sock, timeout=timeout)
    return closed


def wait_closed(sockets, count, timeout=IO_TIMEOUT):
    """Wait until the server has closed count of sockets (EOF or reset),
    or timeout passes; returns the list of those closed."""
    deadline = time.monotonic() + timeout
    closed = []
    while len(closed) < count and time.monotonic() < deadline:
        waiting = [s for s in sockets if s not in closed]
        readable, _, _ = select.select(waiting, [], [], 0.2)
        for s in readable:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                closed.append(s)
    return closed


def scrape_from(source, port, path="/metrics", timeout=IO_TIMEOUT):
    """GET path over a new connection from address source; returns the
    raw response (read until the server closes)."""
    with connect(port, source, timeout) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
                   % path).encode())
        data, _ = read_until_closed(s, timeout=timeout)
    return data


# TLS and passwords


def make_certificate(workdir, name="server"):
    """A self-signed certificate for 127.0.0.1 and localhost, made with
    openssl. Returns (cert_path, key_path)."""
    cert = os.path.join(workdir, name + ".crt")
    key = os.path.join(workdir, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj",
         "/CN=circleci-insights-exporter test",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=120)
    os.chmod(key, 0o600)
    return cert, key


def bcrypt_hash(password, cost=4):
    """A bcrypt hash ($2b$) of password, made by libcrypt. Cost 4, the
    smallest, keeps the tests quick, also under valgrind."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
    except ImportError:
        # Python 3.13 dropped the crypt module: call libcrypt directly.
        return _bcrypt_with_ctypes(password, cost)
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH,
                                              rounds=1 << cost))


def _bcrypt_with_ctypes(password, cost):
    import ctypes
    import ctypes.util

    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                  ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    # NULL random bytes: libcrypt reads them from the operating system.
    salt = lib.crypt_gensalt(b"$2b$", cost, None, 0)
    return lib.crypt(password.encode(), salt).decode()


def is_sanitizer_build(binary):
    """Whether binary was built with AddressSanitizer."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()
