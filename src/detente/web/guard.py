"""The ASGI layer in front of the web app: who may ask, how much, and the headers of every answer.

:class:`Guard` checks, in this order, for every HTTP request:

1. the ``Host`` header is one of the allowed names (DNS rebinding: a page on
   another site whose name resolves to this machine is refused, 421);
2. with an access token, every ``/api/`` request (and ``/openapi.json``)
   carries ``Authorization: Bearer <token>`` (constant-time compare; 401);
3. a state-changing request (POST, PUT, PATCH, DELETE) comes from the app's
   own pages (``Origin`` or ``Sec-Fetch-Site`` same-origin) or carries the
   header ``X-Detente: 1`` that the bundled UI sends and a cross-site page
   cannot send without a CORS preflight, which is never granted (403);
4. the body is at most ``max_body`` bytes: refused on ``Content-Length``
   before reading, or counted while reading (chunked). The body is read whole
   (bounded) before the app sees it.

A refusal reads and discards what the client is still sending (up to
``drain`` bytes, for at most :data:`DRAIN_SECONDS`), then answers and closes
the connection, so a client that sends its whole body before reading (Python's
urllib) reads the answer instead of a reset connection.

Every answer carries the security headers of :data:`SECURITY_HEADERS` (a
response that sets its own Content-Security-Policy keeps it).
:class:`CatchAll` turns any uncaught exception into a generic 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from typing import Any, Iterable
from urllib.parse import urlsplit

log = logging.getLogger("detente.web")

#: The Content-Security-Policy of every page and API answer.
CSP = ("default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

#: Names every server answers to: this machine's loopback names.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")

#: Longest a refusal waits for the rest of a body it discards.
DRAIN_SECONDS = 30.0

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CUSTOM_HEADER = b"x-detente"


def host_name(host: str) -> str:
    """A ``Host`` header (or a bind address) as a bare lower-case name: no port, IPv6 in brackets."""
    h = host.strip().lower().rstrip(".")
    if h.startswith("["):
        return h[: h.find("]") + 1] if "]" in h else h
    if h.count(":") > 1:  # a bare IPv6 address
        return f"[{h}]"
    return h.split(":", 1)[0]


class Refusal(Exception):
    """A request refused before it reaches the app."""

    def __init__(self, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, list(headers)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


class Guard:
    """Host allow-list, access token, cross-site check, body bound and security headers.

    Parameters
    ----------
    app : ASGI app
    max_body : int
        Largest request body in bytes.
    drain : int
        Most bytes of a refused body read and discarded before answering.
    allow_hosts : iterable of str or None
        Accepted ``Host`` names (ports are ignored); None accepts any.
    token : str, optional
        The access token every API request must carry.
    """

    def __init__(self, app: Any, *, max_body: int, drain: int, allow_hosts: Iterable[str] | None,
                 token: str | None = None):
        self.app, self.max_body, self.drain = app, int(max_body), int(drain)
        self.allow_hosts = None if allow_hosts is None else {host_name(h) for h in allow_hosts}
        self.token = token.encode() if token else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        send = self._with_headers(send, scope)
        headers: dict[bytes, bytes] = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.lower(), v)
        try:
            self._check(scope, headers)
            body = await self._read_body(headers, receive)
        except Refusal as r:
            await self._refuse(r, headers, receive, send)
            return
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect, when the client goes away

        await self.app(scope, replay, send)

    # -- the checks -----------------------------------------------------------------------------

    def _check(self, scope: dict, headers: dict[bytes, bytes]) -> None:
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        if self.allow_hosts is not None and host not in self.allow_hosts:
            raise Refusal(421, f"this server does not answer to the host name {host or '(none)'!r}; "
                               "start it with --allow-host NAME to accept it")
        path = scope.get("path", "")
        if self.token is not None and (path.startswith("/api/") or path == "/openapi.json"):
            auth = headers.get(b"authorization", b"")
            scheme, _, given = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                raise Refusal(401, "this server needs its access token: send the header "
                                   "'Authorization: Bearer <token>' (the token was given to `detente serve` "
                                   "or printed when it started)", [(b"www-authenticate", b'Bearer realm="detente"')])
        raw_host = headers.get(b"host", b"").decode("latin-1").strip().lower().rstrip(".")
        if scope.get("method", "GET").upper() in UNSAFE_METHODS and not self._same_origin(headers, raw_host):
            raise Refusal(403, "cross-site request refused: a request that changes something must come from "
                               "this app's own pages, or carry the header 'X-Detente: 1'")

    @staticmethod
    def _same_origin(headers: dict[bytes, bytes], host: str) -> bool:
        """Whether a write comes from this app's pages. ``host`` is the whole Host header, port included:
        an origin is scheme, host *and port*, so another local server's page is cross-site."""
        if headers.get(CUSTOM_HEADER, b"").strip():
            return True  # a custom header: a cross-site page would need a CORS preflight, never granted
        if headers.get(b"sec-fetch-site", b"").lower() in (b"same-origin", b"none"):
            return True
        origin = headers.get(b"origin")
        if origin and origin != b"null":
            o = urlsplit(origin.decode("latin-1"))
            return bool(o.netloc) and o.netloc.lower().rstrip(".") == host and o.scheme in ("http", "https")
        return False

    async def _read_body(self, headers: dict[bytes, bytes], receive: Any) -> bytes:
        length = headers.get(b"content-length")
        if length is not None:
            try:
                n = int(length)
                if n < 0:
                    raise ValueError
            except ValueError:
                raise Refusal(400, "bad Content-Length header") from None
            if n > self.max_body:
                raise Refusal(413, f"request body of {n:,} bytes is over the limit of {_mb(self.max_body)} "
                                   "(a server option: detente serve --max-body)")
        chunks, seen = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise Refusal(400, "the client went away")
            b = msg.get("body", b"")
            seen += len(b)
            if seen > self.max_body:
                raise Refusal(413, f"request body over the limit of {_mb(self.max_body)} "
                                   "(a server option: detente serve --max-body)")
            chunks.append(b)
            if not msg.get("more_body", False):
                return b"".join(chunks)

    # -- answers --------------------------------------------------------------------------------

    async def _refuse(self, r: Refusal, headers: dict[bytes, bytes], receive: Any, send: Any) -> None:
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = self.drain + 1
        has_body = declared > 0 or b"transfer-encoding" in headers
        # a client waiting for "100 Continue" has sent nothing; a body larger than the drain bound
        # cannot be read to its end anyway: answer those at once
        if has_body and declared <= self.drain and headers.get(b"expect", b"").lower() != b"100-continue":
            await self._drain(receive)
        data = json.dumps({"detail": r.detail}).encode()
        await send({"type": "http.response.start", "status": r.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close"), *r.headers]})
        await send({"type": "http.response.body", "body": data})

    async def _drain(self, receive: Any) -> None:
        """Read and discard the rest of the body: at most ``drain`` bytes, for at most DRAIN_SECONDS."""
        seen, end = 0, time.monotonic() + DRAIN_SECONDS
        try:
            while seen <= self.drain:
                left = end - time.monotonic()
                if left <= 0:
                    return
                msg = await asyncio.wait_for(receive(), left)
                if msg["type"] != "http.request":
                    return
                seen += len(msg.get("body", b""))
                if not msg.get("more_body", False):
                    return
        except asyncio.TimeoutError:
            return
        except Exception:  # the client went away mid-body: nothing left to drain
            log.debug("drain of a refused body stopped", exc_info=True)
            return

    @staticmethod
    def _with_headers(send: Any, scope: dict) -> Any:
        api = scope.get("path", "").startswith("/api/")

        async def wrapped(msg: dict) -> None:
            if msg["type"] == "http.response.start":
                have = {k.lower() for k, _ in msg.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in have]
                if api and b"cache-control" not in have:
                    extra.append((b"cache-control", b"no-store"))
                msg = {**msg, "headers": [*msg.get("headers", []), *extra]}
            await send(msg)

        return wrapped


class _Watched:
    """An ASGI ``send`` that remembers whether the response has started."""

    def __init__(self, send: Any):
        self.send, self.started = send, False

    async def __call__(self, msg: dict) -> None:
        if msg["type"] == "http.response.start":
            self.started = True
        await self.send(msg)


class CatchAll:
    """Log any uncaught exception and answer a generic 500 without a traceback."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        watch = _Watched(send)
        try:
            await self.app(scope, receive, watch)
        except Exception:
            if not watch.started:  # otherwise the app's own handler has logged it and answered
                log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
                data = b'{"detail": "internal server error"}'
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(data)).encode())]})
                await send({"type": "http.response.body", "body": data})
