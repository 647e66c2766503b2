"""Who may open the view: loopback by default, a token for any other address (HTTP 403
without it), one-line refusals for a non-loopback host without a token and a port in use."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from viewtools import free_port, start_view, stop, wait_http

from policysim.errors import PolicysimError
from policysim.view.security import TokenMiddleware, check_bind, is_loopback


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policysim.cli", "view", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("localhost")
    assert is_loopback("::1")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.5")


def test_check_bind() -> None:
    assert check_bind("127.0.0.1", None, generate=False) is None
    with pytest.raises(PolicysimError, match="needs an access token"):
        check_bind("0.0.0.0", None, generate=False)
    generated = check_bind("0.0.0.0", None, generate=True)
    assert generated is not None and len(generated) >= 32
    with pytest.raises(PolicysimError, match="too short"):
        check_bind("0.0.0.0", "abc", generate=False)


def test_non_loopback_without_token_is_refused(tmp_path: Path) -> None:
    done = _cli("--host", "0.0.0.0", "--port", str(free_port()), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "not a loopback address" in lines[0] and "--token" in lines[0]


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = _cli("--port", str(port), cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "in use" in done.stderr


def _call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_token_middleware_unit() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = TokenMiddleware(inner, "s3cret-token-0123456789")
    http = {"type": "http", "headers": [], "query_string": b""}
    assert _call(app, http)[0]["status"] == 403
    wrong = {**http, "query_string": b"token=nope"}
    assert _call(app, wrong)[0]["status"] == 403
    right = _call(app, {**http, "query_string": b"token=s3cret-token-0123456789"})
    assert right[0]["status"] == 200
    cookie = dict(right[0]["headers"])[b"set-cookie"]
    assert b"HttpOnly" in cookie
    with_cookie = {**http, "headers": [(b"cookie", b"policysim-token=s3cret-token-0123456789")]}
    assert _call(app, with_cookie)[0]["status"] == 200
    ws = {"type": "websocket", "headers": [], "query_string": b""}
    assert _call(app, ws)[0] == {"type": "websocket.close", "code": 1008}


@pytest.mark.slow
def test_token_required_over_http(tmp_path: Path) -> None:
    """Bound to every address with a token: a request without it gets 403, with it 200."""
    pytest.importorskip("solara", reason="the view extra (solara) is not installed")
    port = free_port()
    token = "test-token-0123456789abcdef"
    proc = start_view(["--host", "0.0.0.0", "--port", str(port), "--token", token], tmp_path)
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_http(base, timeout=60)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base, timeout=10)
        assert refused.value.code == 403
        with urllib.request.urlopen(f"{base}?token={token}", timeout=30) as ok:
            assert ok.status == 200
    finally:
        out = stop(proc)
    assert f"?token={token}" in out
