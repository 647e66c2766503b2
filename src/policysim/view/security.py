"""Who may open the page: the address it binds to and the access token.

By default the page binds to the loopback address (only this machine reaches it). Binding any
other address needs ``--host`` and a token (``--token`` or one generated and printed): every
request must then carry it, as ``?token=...`` in the address (the page then keeps it in a cookie
for its own requests), a ``policysim-token`` cookie or an ``Authorization: Bearer`` header; any
other request gets HTTP 403 (a websocket is closed before it opens).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qs

from policysim.errors import PolicysimError

__all__ = [
    "COOKIE",
    "TokenMiddleware",
    "check_bind",
    "is_loopback",
    "new_token",
    "port_free",
]

COOKIE: Final = "policysim-token"
#: Shortest token accepted from ``--token``.
MIN_TOKEN_CHARS: Final = 16

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A random URL-safe token (32 bytes of entropy)."""
    return secrets.token_urlsafe(32)


def check_bind(host: str, token: str | None, *, generate: bool) -> str | None:
    """The token to require for binding ``host``, or None on loopback.

    Parameters
    ----------
    host : str
        Address to bind.
    token : str, optional
        The ``--token`` given.
    generate : bool
        Whether a token may be generated when none is given (``--token auto``).

    Raises
    ------
    PolicysimError
        A non-loopback address without token handling, or a token too short to be safe.
    """
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise PolicysimError(
            f"--token: too short ({len(token)} characters; expected at least {MIN_TOKEN_CHARS}, "
            "or --token auto to generate one)"
        )
    if is_loopback(host):
        return token
    if token is None and not generate:
        raise PolicysimError(
            f"--host {host}: not a loopback address; binding it needs an access token "
            "(--token auto to generate one, or --token YOUR_TOKEN)"
        )
    return token or new_token()


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _presented(scope: Scope) -> tuple[str | None, bool]:
    """The token a request carries, and whether it came in the query string."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "token" in query:
        return query["token"][0], True
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header carries no token
        return None, False
    morsel = cookie.get(COOKIE)
    return (morsel.value if morsel is not None else None), False


class TokenMiddleware:
    """ASGI middleware refusing HTTP requests (403) and websockets (closed) without the token;
    a request that brought it in ``?token=`` gets it set as a cookie (HttpOnly, SameSite=Strict)
    so that the page's own requests carry it."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        presented, in_query = _presented(scope)
        if not self._ok(presented):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = b"403 Forbidden: this policysim view needs its access token (?token=...)\n"
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if not in_query or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={presented}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
