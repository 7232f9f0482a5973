"""What keeps web pages out of a local server that has no tokens (`--no-auth`).

Without tokens every request is the tenant 'default', and a browser sends requests from any
page the user visits: a text/plain, form or typeless body and a body-less POST need no CORS
preflight, so a page could write (an import, a resync, a delete) without ever reading the
answer; and DNS rebinding points a page's own name at 127.0.0.1, after which it can read too.
So, without tokens:

- the Host header must name this machine (localhost, 127.0.0.1, [::1]) or the bound host;
- a write (POST, PUT, PATCH, DELETE) must not come from another site: `Sec-Fetch-Site`, where
  a browser sends it, must be same-origin or none (typed by the user), and `Origin` must be
  this server's own;
- a write's body must be JSON (an import: JSON Lines or gzip), types a page cannot send
  without a preflight, which this server never answers.

With tokens none of this is needed: a page cannot send a bearer token without a preflight.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..http.body import is_json
from ..http.errors import error_response
from ..http.routes import IMPORT_PATH, IMPORT_TYPES

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE = frozenset({b"same-origin", b"none"})


def host_name(host: str) -> str:
    """The name part of a Host header or a bind address: "[::1]:8787" -> "[::1]"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    if host.count(":") > 1:  # a bare IPv6 address, as given to --host
        return f"[{host}]"
    return host.partition(":")[0]


class NoAuthGuard:
    def __init__(self, app: ASGIApp, bound_host: str) -> None:
        self.app = app
        self.names = LOCAL_NAMES | {host_name(bound_host)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                status, code, message = refusal
                await error_response(status, code, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if host_name(host) not in self.names:
            return (
                403,
                "forbidden",
                "without tokens this server answers only to the names of this machine "
                f"({', '.join(sorted(self.names))}), not to Host {host[:100]!r}",
            )
        if scope["method"] not in WRITES:
            return None
        site, origin = headers.get(b"sec-fetch-site"), headers.get(b"origin")
        if (site is not None and site not in SAME_SITE) or (
            origin is not None and origin.decode("latin-1") != f"http://{host}"
        ):
            return 403, "forbidden", "without tokens this server takes no writes from other sites"
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        if has_body and not self._accepted(scope["path"], headers.get(b"content-type")):
            wanted = (
                "application/x-ndjson or application/gzip"
                if scope["path"] == IMPORT_PATH
                else "application/json"
            )
            return 415, "unsupported_media_type", f"without tokens a write's body must be {wanted}"
        return None

    @staticmethod
    def _accepted(path: str, content_type: bytes | None) -> bool:
        if content_type is None:  # FastAPI would parse it as JSON; a page can send it as is
            return False
        if path == IMPORT_PATH:
            kind = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
            return kind in IMPORT_TYPES
        return is_json(content_type)
