"""The one loopback HTTP client every system is measured through: a kept-alive connection per
system (http.client), so that no system pays a TCP handshake the others do not."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


class RequestFailed(RuntimeError):
    """A system answered with an unexpected status: the bench stops rather than time errors."""


class Loopback:
    def __init__(self, base: str, headers: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"content-type": "application/json", **(headers or {})}
        self.timeout = 600.0
        """Seconds a request may take; past it, TimeoutError (and the connection is closed)."""
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port)
        self._conn.timeout = self.timeout
        if self._conn.sock is not None:
            self._conn.sock.settimeout(self.timeout)
        return self._conn

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON answer (bytes if not JSON); RequestFailed unless the status is
        2xx. A kept-alive connection the server has closed meanwhile is opened again once."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(method, path, body=data, headers=self.headers)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            except TimeoutError:
                self.close()
                raise
            if not 200 <= response.status < 300:
                raise RequestFailed(f"{method} {path}: {response.status} {payload[:500]!r}")
            if "json" not in response.getheader("content-type", ""):
                return payload
            return json.loads(payload)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
