"""Command-line interface: ``policysim validate | data | run | compare | frontier | sensitivity |
hindcast | calibrate | nowcast``.

Every command lives in a module of :mod:`policysim.commands` with a ``register(app)`` function,
added here in one place. Only the CLI prints. User mistakes (:class:`~policysim.errors.PolicysimError`) are printed as
one line on stderr with a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.text import Text

from policysim._memory import keep_freed_memory
from policysim.commands._common import err
from policysim.errors import PolicysimError

app = typer.Typer(
    name="policysim",
    help=(
        "Policy simulation of Jiangxi's 2018 county innovation policy: an agent-based model of "
        "counties, townships and enterprises with an allocation optimiser, run as seeded "
        "ensembles that estimate the probability of reaching each dated target."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _register_commands() -> None:
    """Add every command, one way: each module of :mod:`policysim.commands` has ``register``."""
    from policysim.commands import compare, hindcast, maintenance, nowcast, run, sensitivity, view

    run.register(app)
    compare.register(app)
    sensitivity.register(app)
    hindcast.register(app)
    nowcast.register(app)
    maintenance.register(app)
    view.register(app)


_register_commands()


def main() -> None:
    """Entry point of the ``policysim`` script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    keep_freed_memory()  # the command's own process runs the model too (--workers 1)
    try:
        app()
    except PolicysimError as exc:  # raised outside a command's own handler
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
