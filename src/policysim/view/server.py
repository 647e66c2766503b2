"""Start the view: the Solara app served by uvicorn in this process.

Solara reads its app from ``SOLARA_APP`` when its server module is imported, so the environment
is set first (app module, no telemetry, no CDN proxy: the page works offline), then the Starlette
app is imported, wrapped in :class:`~policysim.view.security.TokenMiddleware` when a token is
required, and served with :class:`uvicorn.Server` (no reloader, no second process).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from policysim.view import config
from policysim.view.security import TokenMiddleware
from policysim.view.words import page_font_css

__all__ = ["SOLARA_ENV", "build_app", "serve", "solara_environment"]

logger = logging.getLogger(__name__)

#: Environment of Solara's server: the app module, and nothing that phones home.
SOLARA_ENV: dict[str, str] = {
    "SOLARA_APP": "policysim.view.app",
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_ASSETS_PROXY": "True",  # served from solara-assets' bundle, fetched only if missing
    "SOLARA_THEME_SHOW_BANNER": "False",
    "SOLARA_MODE": "production",
}


def solara_environment() -> None:
    """Set :data:`SOLARA_ENV` (values already in the environment win); call before the first
    import of ``solara``, which reads its settings once."""
    for key, value in SOLARA_ENV.items():
        os.environ.setdefault(key, value)


def build_app(token: str | None) -> Any:
    """The ASGI application: Solara's Starlette app, behind the token check when given."""
    solara_environment()
    import warnings

    # plain http on loopback: Solara falls back to SameSite=Lax cookies, which is what we want
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)
    from solara.server.starlette import app as solara_app

    return solara_app if token is None else TokenMiddleware(solara_app, token)


def serve(settings: config.ViewConfig, *, on_ready: Callable[[], None] | None = None) -> None:
    """Serve the view until interrupted (blocking).

    Parameters
    ----------
    settings : ViewConfig
        Host, port, token, language, the runs and scenarios given on the command line.
    on_ready : callable, optional
        Called once the server listens.
    """
    import asyncio

    import uvicorn

    config.set_config(settings)
    app = build_app(settings.token)
    # the page's embedded CJK glyphs are subset once, while the server starts
    threading.Thread(
        target=page_font_css, args=(settings.scenario_dir,), name="policysim-font", daemon=True
    ).start()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            loop="asyncio",
            timeout_graceful_shutdown=2,
        )
    )

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started and on_ready is not None:
            on_ready()
        await task

    asyncio.run(main())
