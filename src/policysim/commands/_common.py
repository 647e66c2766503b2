"""What every command shares: the option set, the consoles, the one-line error exit, the checks
made before any work, timestamped run folders, and the run directory of a study.

The options that several commands take are declared once here, as ``Annotated`` aliases, and
used as the parameter types of every command (``workers: Workers = 1``), so that their names,
help and checks are the same everywhere; an option of one command is an alias in its module.

A study command is written in one shape::

    with OneLineErrors(out_dir) as errors:
        check_before_work(...)
        loaded = load_scenario(...)
        target = errors.writes_to(study_dir(out_dir, loaded, "hindcast"))
        key = study_key([loaded], resolved_seed(loaded, seed), ...)
        with StudyDirectory(target, command="hindcast", resume=resume, force=force,
                            key=key) as study:
            result = run_hindcast(..., store=target)
            written = study.finish(write_hindcast(result, target))

:class:`OneLineErrors` turns a user error, a file-system failure and Ctrl-C into one line and
an exit code; :class:`StudyDirectory` checks, locks and resumes the run directory, and marks it
complete only once every output is written.
"""

from __future__ import annotations

import datetime as dt
import errno
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Final, NoReturn

import typer
from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from policysim.errors import PolicysimError, ScenarioError
from policysim.experiments.rundir import RunDirectory

if TYPE_CHECKING:
    from policysim.scenario import LoadedScenario

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

# -- the shared option set ------------------------------------------------------------------------

ScenarioFile = Annotated[Path, typer.Argument(help="Scenario YAML file.")]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a scenario key (repeatable; in every scenario of a study): "
        "`--set horizon.end_year=2025`.",
    ),
]
OutDir = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Output folder (default: a new `<name>-<timestamp>/` folder under the scenario's "
        "outputs.dir, `results/`).",
    ),
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Write into a folder policysim did not create, or replace the run it holds "
        "(deletes only the files that run wrote).",
    ),
]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue the interrupted command in --out: finished runs are kept, not run again "
        "(refused if the scenario, seed, code or input files changed).",
    ),
]
Workers = Annotated[int, typer.Option(help="Local worker processes (1: in this process).")]
Scheduler = Annotated[
    str | None,
    typer.Option(help="Dask scheduler address, e.g. `tcp://10.0.0.5:8786` (overrides --workers)."),
]
Seed = Annotated[
    int | None,
    typer.Option(help="Root seed, shared by every ensemble (default: ensemble.root_seed)."),
]
Replications = Annotated[
    int | None,
    typer.Option(
        help="Runs of each ensemble (default: ensemble.replications of the (first) scenario)."
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bars or tables.")]
Lang = Annotated[str, typer.Option(help="Language of the briefing: `zh`, `en` or `both`.")]


#: Caps of the CLI's counts (the schema's cap of ``ensemble.replications``; workers: each holds
#: a model and a baseline, ~300 MB).
MAX_REPLICATIONS: Final = 1_000_000
MAX_WORKERS: Final = 256
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """Text from a scenario or a file, safe on a terminal: control characters and escape
    sequences shown as ``\\xNN`` (rich markup is never interpreted where this is printed with
    :class:`~rich.text.Text` or ``markup=False``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def fail(exc: PolicysimError) -> NoReturn:
    """Print a user error as one line on stderr (no markup is interpreted) and exit with its
    code (a note with exit code 0, e.g. a complete run asked to resume, goes to stdout)."""
    if exc.exit_code == 0:
        out.print(Text(plain(exc)), highlight=False)
        raise typer.Exit(code=0)
    err.print(Text.assemble(("error: ", "bold red"), plain(exc)), highlight=False)
    raise typer.Exit(code=exc.exit_code)


def fail_os(exc: OSError, where: Path | None) -> NoReturn:
    """A file-system failure (disk full, permissions, read-only) as one line, exit 3: the run
    directory stays in progress and resumable."""
    place = f"{where}: " if where is not None else ""
    hint = " (free space, then --resume)" if exc.errno == errno.ENOSPC else ""
    name = f" {exc.filename}" if exc.filename else ""
    err.print(
        Text.assemble(
            ("error: ", "bold red"), plain(f"{place}cannot write{name}: {exc.strerror}{hint}")
        ),
        highlight=False,
    )
    raise typer.Exit(code=3)


def check_cli_counts(*, replications: int | None = None, workers: int | None = None) -> None:
    """``--replications`` and ``--workers`` within their caps (before any work)."""
    if replications is not None and not 1 <= replications <= MAX_REPLICATIONS:
        raise ScenarioError(
            None,
            "bad number of runs",
            key_path="--replications",
            value=replications,
            expected=f"an integer from 1 to {MAX_REPLICATIONS:,}",
        )
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise ScenarioError(
            None,
            "bad worker count",
            key_path="--workers",
            value=workers,
            expected=f"an integer from 1 to {MAX_WORKERS}",
        )


def check_before_work(
    *,
    out_dir: Path | None = None,
    resume: bool = False,
    replications: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> None:
    """The checks every ensemble command makes before any work: the output folder, ``--resume``
    with its ``--out``, the counts' caps and the scheduler address."""
    from policysim.experiments.rundir import check_output_dir
    from policysim.experiments.runner import check_scheduler

    if out_dir is not None:
        check_output_dir(out_dir)
    if resume and out_dir is None:
        raise ScenarioError(
            None,
            "--resume needs the folder of the interrupted command",
            key_path="--out",
            expected="--out DIR, the folder it was writing",
        )
    check_cli_counts(replications=replications, workers=workers)
    check_scheduler(scheduler)


def interrupted(target: Path | None) -> NoReturn:
    """Ctrl-C of a study: the finished runs stay in its folder; say how to continue."""
    if target is None or not Path(target).exists():
        err.print("\ninterrupted before the runs started; nothing was written", highlight=False)
    else:
        err.print(
            f"\ninterrupted; the finished runs are kept in {plain(target)}. Run the same command "
            f"with --out {plain(target)} --resume to continue.",
            highlight=False,
            markup=False,
        )
    raise typer.Exit(code=130)


class OneLineErrors:
    """What goes wrong in a command, as one line and an exit code (a context manager).

    * a user error (:class:`~policysim.errors.PolicysimError`): ``error: ...`` on stderr, its exit
      code (2; 0 for a note such as a complete run asked to resume, on stdout);
    * a file-system failure (:class:`OSError`: disk full, permissions): one line naming the run
      directory, exit 3 (the directory stays in progress, resumable);
    * Ctrl-C: what was kept and how to continue (``on_interrupt``, default :func:`interrupted`),
      exit 130.

    No traceback is shown for these; anything else propagates. Nothing is removed here: a run
    directory opened inside cleans up after itself (:class:`StudyDirectory`).

    Parameters
    ----------
    where : pathlib.Path, optional
        The run directory named in the messages (``--out``); set it with :meth:`writes_to`
        once a default folder is chosen.
    on_interrupt : callable, optional
        Called with :attr:`where` on Ctrl-C; must exit.
    """

    def __init__(
        self,
        where: Path | None = None,
        *,
        on_interrupt: Callable[[Path | None], NoReturn] | None = None,
    ) -> None:
        self.where = where
        self._on_interrupt = on_interrupt or interrupted

    def writes_to(self, target: Path) -> Path:
        """Name ``target`` in the messages from here on; returns it."""
        self.where = target
        return target

    def __enter__(self) -> OneLineErrors:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, PolicysimError):
            fail(exc)
        if isinstance(exc, OSError):
            fail_os(exc, self.where)
        if isinstance(exc, KeyboardInterrupt):
            self._on_interrupt(self.where)


@dataclass
class StudyDirectory(RunDirectory):
    """The run directory of a study command (a resumable :class:`RunDirectory`).

    Open it, run the study (its ensembles streaming into the directory), write the outputs and
    hand them to :meth:`finish`. Until then the directory is in progress: an error or Ctrl-C
    leaves it resumable, or removes it if this command created it and nothing but the marker was
    written (no partial output). A complete directory is never replaced without ``force``;
    ``resume`` of a complete one is a note with exit code 0.
    """

    resumable: bool = True

    def __enter__(self) -> StudyDirectory:
        super().__enter__()
        return self

    def finish(self, written: dict[str, Path], *, study_stores: bool = True) -> dict[str, Path]:
        """Mark the directory complete with the checksums of ``written`` (its files inside the
        directory), then delete the stored runs: every ensemble store of the study, or only the
        directory's own (``study_stores`` False, a single ensemble). Returns ``written``."""
        from policysim.experiments.store import PartsStore, remove_study_stores

        self.complete(written)
        if study_stores:
            remove_study_stores(self.path)
        else:
            PartsStore(self.path).remove()
        return written


def resolved_seed(loaded: LoadedScenario, seed: int | None) -> int:
    """The root seed of a command's ensembles: ``--seed``, else the scenario's
    ``ensemble.root_seed`` (of the first scenario, for a study of several)."""
    return loaded.scenario.ensemble.root_seed if seed is None else seed


def study_dir(out_dir: Path | None, loaded: LoadedScenario, study: str) -> Path:
    """The run directory of a study of one scenario: ``--out``, else a new
    ``<scenario name>-<study>-<timestamp>/`` folder under the scenario's ``outputs.dir``."""
    if out_dir is not None:
        return out_dir
    return timestamped_dir(Path(loaded.scenario.outputs.dir), f"{loaded.name}-{study}")


def print_written(written: dict[str, Path]) -> None:
    """The files a command wrote, one ``name: path`` line each (no markup interpreted)."""
    out.print("Written:", highlight=False)
    for name, path in written.items():
        out.print(f"  {name}: {path}", highlight=False, markup=False)


def timestamped_dir(base: Path, stem: str) -> Path:
    """``base/<stem>-YYYYmmdd-HHMMSS`` (with ``-2``, ``-3``... if that folder exists)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = base / f"{stem}-{stamp}"
    k = 1
    while candidate.exists():
        k += 1
        candidate = base / f"{stem}-{stamp}-{k}"
    return candidate


def check_lang(lang: str) -> None:
    """``--lang`` must be ``zh``, ``en`` or ``both``."""
    from policysim.report.briefing import LANGS

    if lang not in LANGS:
        raise PolicysimError(f"--lang: {lang!r}: expected one of {', '.join(LANGS)}")


def print_briefing(written: dict[str, Path]) -> None:
    """Print the briefing text (briefing.txt, the words of briefing.html), wrapped to the
    terminal (no name is cut)."""
    path = written.get("briefing_text")
    if path is None:
        return
    out.rule("Briefing / 简报")
    for line in path.read_text(encoding="utf-8").splitlines():
        indent = len(line) - len(line.lstrip(" "))
        text = Text(line.strip(), style="bold" if indent == 0 else "")
        out.print(Padding(text, (0, 0, 0, indent)), soft_wrap=False, highlight=False)


#: Largest user input file read whole (an observed CSV): 64 MiB.
MAX_INPUT_BYTES: Final = 64 << 20


def check_input_file(path: Path, option: str) -> None:
    """An input file must be a regular, readable file of a sane size (not a folder, not
    ``/dev/zero``)."""
    expected = f"a readable regular file of at most {MAX_INPUT_BYTES >> 20} MiB"
    p = Path(path)
    if not p.exists():
        raise ScenarioError(
            None, "file not found", key_path=option, value=str(p), expected=expected
        )
    if not p.is_file():
        raise ScenarioError(
            None, "not a regular file", key_path=option, value=str(p), expected=expected
        )
    try:
        size = p.stat().st_size
        with p.open("rb"):
            pass
    except OSError as exc:
        raise ScenarioError(
            None,
            f"cannot read it ({exc.strerror})",
            key_path=option,
            value=str(p),
            expected=expected,
        ) from None
    if size > MAX_INPUT_BYTES:
        raise ScenarioError(
            None, f"too large ({size:,} bytes)", key_path=option, value=str(p), expected=expected
        )
