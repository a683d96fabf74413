# SPDX-License-Identifier: MIT
"""Slow and idle clients: the per-address connection limit keeps a scrape
from another address working while several addresses hold connections
open, idle connections are closed after server.idle_timeout, and a full
server recovers once its clients leave.

Clients bind to 127.0.0.2 and up before connecting; Linux routes all of
127.0.0.0/8 to the loopback interface.
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import harness  # noqa: E402

ATTACKERS = ["127.0.0.%d" % i for i in range(2, 6)]
SCRAPER = "127.0.0.9"
MAX_CONNECTIONS = 32
PER_IP = 6
# Connections each attacker tries, idle and slow in turn: twice its limit,
# so that without the per-address limit the attackers together would take
# every one of the MAX_CONNECTIONS slots.
TRIES_PER_ADDRESS = 2 * PER_IP


class SlowSender:
    """Sends one header byte per second on each socket from a thread, as a
    slowloris client does, so that no connection is ever idle."""

    def __init__(self, sockets):
        self.sockets = list(sockets)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_event.wait(1.0):
            for s in self.sockets:
                common.send_quietly(s, b"a")

    def __enter__(self):
        for s in self.sockets:
            common.send_quietly(s, b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(timeout=common.IO_TIMEOUT)


def close_all(sockets):
    for s in sockets:
        s.close()


class PerAddressLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A long idle timeout, so that only the limits close connections.
        _, _, cls.exporter = common.start_stack(cls, server="""
max_connections: %d
max_connections_per_ip: %d
idle_timeout: 120s
max_request_bytes: 8192
""" % (MAX_CONNECTIONS, PER_IP))
        cls.port = cls.exporter.port

    def open_from(self, source, count):
        sockets = []
        for _ in range(count):
            sockets.append(common.connect(self.port, source))
        self.addCleanup(close_all, sockets)
        return sockets

    def test_connections_beyond_limit_closed(self):
        sockets = self.open_from("127.0.0.20", PER_IP + 3)
        closed = common.wait_closed(sockets, 3)
        self.assertEqual(len(closed), 3,
                         "expected the 3 connections beyond "
                         "max_connections_per_ip=%d closed" % PER_IP)
        # No more: the others stay open until the idle timeout of 120 s.
        more = common.wait_closed([s for s in sockets if s not in closed],
                                  1, timeout=2.0)
        self.assertEqual(more, [], "a connection within the limit was closed")
        self.assertTrue(self.exporter.alive())

    def test_scrape_from_other_address_during_slowloris(self):
        self.assertGreater(len(ATTACKERS) * TRIES_PER_ADDRESS, MAX_CONNECTIONS)
        self.assertLess(len(ATTACKERS) * PER_IP, MAX_CONNECTIONS)
        slow = []
        for source in ATTACKERS:
            sockets = self.open_from(source, TRIES_PER_ADDRESS)
            slow += sockets[1::2]
        with SlowSender(slow):
            # Let the slow clients send a few bytes first.
            time.sleep(2.0)
            response = common.scrape_from(SCRAPER, self.port)
            self.assertEqual(common.status_of(response), 200, response[:300])
            self.assertIn(b"circleci_exporter_build_info", response)
            response = common.scrape_from(SCRAPER, self.port, "/-/healthy")
            self.assertEqual(common.status_of(response), 200, response[:300])
        self.assertTrue(self.exporter.alive())

    def test_limit_per_address_not_global(self):
        # Address A at its limit does not block address B.
        self.open_from("127.0.0.30", PER_IP)
        response = common.scrape_from("127.0.0.31", self.port, "/-/healthy")
        self.assertEqual(common.status_of(response), 200, response[:300])


class IdleTimeoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        _, _, cls.exporter = common.start_stack(cls, server="""
max_connections: 32
max_connections_per_ip: 8
idle_timeout: 2s
""")
        cls.port = cls.exporter.port

    def test_idle_connection_closed(self):
        with common.connect(self.port, "127.0.0.40") as s:
            opened = time.monotonic()
            self.assertTrue(common.closed_by_server(s, common.IO_TIMEOUT),
                            "idle connection still open after %.0f s"
                            % common.IO_TIMEOUT)
            # Not closed for another reason right away.
            self.assertGreaterEqual(time.monotonic() - opened, 1.0)

    def test_keepalive_connection_closed_after_answer(self):
        with common.connect(self.port, "127.0.0.41") as s:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            data, closed = common.read_until_closed(s, common.IO_TIMEOUT)
            self.assertEqual(common.status_of(data), 200, data[:300])
            self.assertTrue(closed, "keep-alive connection still open "
                            "after %.0f s idle" % common.IO_TIMEOUT)

    def test_half_sent_request_closed(self):
        with common.connect(self.port, "127.0.0.42") as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            self.assertTrue(common.closed_by_server(s, common.IO_TIMEOUT))

    def test_freed_slots_reusable(self):
        # Fill this address's slots, let the server time them out, and
        # connect again from the same address.
        sockets = [common.connect(self.port, "127.0.0.43") for _ in range(8)]
        self.addCleanup(close_all, sockets)
        for s in sockets:
            self.assertTrue(common.closed_by_server(s, common.IO_TIMEOUT))
        response = common.scrape_from("127.0.0.43", self.port, "/-/healthy")
        self.assertEqual(common.status_of(response), 200, response[:300])


class ServerFullTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        _, _, cls.exporter = common.start_stack(cls, server="""
max_connections: 8
max_connections_per_ip: 100
idle_timeout: 120s
""")
        cls.port = cls.exporter.port

    def test_recovers_after_clients_leave(self):
        # More connections than max_connections: the surplus waits in the
        # kernel's backlog or is closed; either way nothing crashes.
        sockets = [common.connect(self.port, "127.0.0.50") for _ in range(12)]
        try:
            time.sleep(1.0)
            self.assertTrue(self.exporter.alive())
        finally:
            close_all(sockets)

        def healthy():
            response = common.scrape_from("127.0.0.51", self.port,
                                        "/-/healthy", timeout=5.0)
            return common.status_of(response) == 200

        harness.wait_until(healthy, "/-/healthy after the clients left")
        response = common.scrape_from("127.0.0.51", self.port)
        self.assertEqual(common.status_of(response), 200, response[:300])


if __name__ == "__main__":
    harness.main()
