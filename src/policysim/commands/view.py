"""``policysim view``: explore scenarios and runs in the browser.

Solara is imported only when the command runs (the CLI's start stays fast, and the ``view`` extra
is needed only for this command).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from policysim.commands._common import check_lang, err, out
from policysim.commands._common import fail as _fail
from policysim.errors import PolicysimError

if TYPE_CHECKING:
    from policysim.view.config import ViewConfig

__all__ = ["register"]

DEFAULT_PORT = 8765


def _split(paths: list[Path]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """Scenario files and run directories among the arguments (anything else is an error)."""
    scenarios: list[Path] = []
    runs: list[Path] = []
    for p in paths:
        if p.is_dir():
            runs.append(p)
        elif p.is_file() and p.suffix in (".yaml", ".yml"):
            scenarios.append(p)
        else:
            raise PolicysimError(
                f"{p}: neither a run directory nor a scenario file (.yaml) (expected e.g. "
                "results/base or scenarios/tiny.yaml)"
            )
    return tuple(scenarios), tuple(runs)


def view(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Run directories to open and scenario files to offer first."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[
        str,
        typer.Option(
            help="Address to bind (default loopback: this machine only). Any other address "
            "needs --token."
        ),
    ] = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            help="Access token required on every request (`auto`: generate one and print it). "
            "Required for a non-loopback --host."
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="Labels and briefings: `zh`, `en` or `both`.")] = "both",
    results: Annotated[
        Path, typer.Option(help="Folder of run directories (listed; new runs go there).")
    ] = Path("results"),
    scenarios: Annotated[
        Path, typer.Option(help="Folder of scenario files offered on the page.")
    ] = Path("scenarios"),
) -> None:
    """Explore scenarios and runs in the browser: change the levers of a scenario and run its
    ensemble, compare run directories, look at one county. Needs the `view` extra
    (`pip install "policysim[view]"`).

    Examples:

        policysim view

        policysim view scenarios/tiny.yaml results/base --port 8800

        policysim view --host 0.0.0.0 --token auto     # reachable from the network, with a token
    """
    try:
        given, runs, required = _check(paths or [], port, host, token, lang)
    except PolicysimError as exc:
        _fail(exc)
    from policysim.view.server import solara_environment

    solara_environment()  # before solara reads its settings
    try:
        import solara  # noqa: F401
    except ImportError:
        err.print(
            'error: policysim view needs the view extra: pip install "policysim[view]"',
            highlight=False,
            markup=False,
        )
        raise typer.Exit(code=2) from None
    from policysim.view.config import ViewConfig
    from policysim.view.server import serve

    settings = ViewConfig(
        host=host,
        port=port,
        token=required,
        lang=lang,
        scenarios=given,
        runs=runs,
        scenario_dir=scenarios,
        results_dir=results,
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the server
        serve(settings, on_ready=lambda: _announce(settings))


def _check(
    paths: list[Path], port: int, host: str, token: str | None, lang: str
) -> tuple[tuple[Path, ...], tuple[Path, ...], str | None]:
    """The arguments checked before anything starts: scenarios, run directories and the token
    to require (one-line :class:`PolicysimError` otherwise)."""
    from policysim.view.security import check_bind, port_free

    check_lang(lang)
    given, runs = _split(paths)
    if not 1 <= port <= 65535:
        raise PolicysimError(f"--port {port}: expected a port from 1 to 65535")
    required = check_bind(host, None if token == "auto" else token, generate=token == "auto")
    if not port_free(host, port):
        raise PolicysimError(
            f"--port {port}: {host}:{port} is in use (expected a free port, e.g. --port {port + 1})"
        )
    return given, runs, required


def _announce(settings: ViewConfig) -> None:
    """Print the address once the server listens."""
    out.print(f"policysim view: {settings.url()}", highlight=False, markup=False)
    if settings.token is not None:
        out.print(
            "requests without this token are refused (HTTP 403)", highlight=False, markup=False
        )
    out.print("Ctrl-C to stop", highlight=False, markup=False)
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add ``view`` to the application."""
    app.command()(view)
