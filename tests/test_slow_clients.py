"""Half-sent request bodies are timed out: 300 slow connections made every request time out,
and each held its resources forever (issue 17, 9). The real server, over loopback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from .servers import Server

SLOW = 300
TIMEOUT_S = 1.0


def half_sent(port: int) -> socket.socket:
    """A request that promises a body and sends a tenth of it."""
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(
        b"POST /v1/sessions/s/entries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + b" " * 100
    )
    return connection


def test_slow_bodies_get_a_408_and_block_no_one(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", "--no-auth", "--body-timeout-seconds", str(TIMEOUT_S))
    try:
        assert server.call("POST", "/v1/sessions", {"id": "s"})[0] == 201
        port = int(server.base.rsplit(":", 1)[1])
        slow = [half_sent(port) for _ in range(SLOW)]
        started = time.monotonic()
        latencies = []
        for _ in range(20):
            before = time.monotonic()
            assert server.call("GET", "/v1/sessions/s")[0] == 200
            latencies.append(time.monotonic() - before)
        assert max(latencies) < TIMEOUT_S / 2, "the slow ones block no one"
        answers = []
        for connection in slow:
            connection.settimeout(max(0.1, started + 10 * TIMEOUT_S - time.monotonic()))
            received = b""
            while chunk := connection.recv(4096):  # b"" once the server closed it
                received += chunk
            answers.append(received.split(b"\r\n", 1)[0])
            connection.close()
        assert set(answers) == {b"HTTP/1.1 408 Request Timeout"}
        assert server.call("GET", "/v1/sessions/s")[1]["entry_count"] == 0
    finally:
        server.stop()
