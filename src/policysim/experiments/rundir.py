"""Run directories that defend themselves: one writer, no foreign files touched, a known state.

Every command that writes a run directory (``run``, ``compare``, ``frontier``, ``sensitivity``,
``hindcast``, ``nowcast``, and ``calibrate`` for the folder of its runs) opens it with
:class:`RunDirectory`:

* the output path is checked before any work (:func:`check_output_dir`): not an existing file, not
  below a file, not a special file system (``/dev``, ``/proc``, ``/sys``), writable;
* a lock file (``.policysim.lock``, an exclusive ``flock`` held while the command runs; the
  kernel releases it when the process dies, so a stale lock is never mistaken for a live one)
  refuses a second writer with a one-line error naming the process that holds it;
* the marker ``.policysim-run.json`` records that policysim created the directory, the command,
  its state (``in progress`` or ``complete``), the resume key and the files it wrote (with
  SHA-256 checksums once complete). A command never writes into a non-empty directory that has
  no marker (a folder it did not create) and never replaces a complete run or starts over an
  interrupted one unless given ``--force``; with ``--force`` it deletes only the files the
  earlier run recorded as its own;
* :func:`directory_state` reads it all back (``policysim status DIR``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from policysim.errors import ScenarioError

__all__ = [
    "LOCK_FILE",
    "MARKER_FILE",
    "DirectoryState",
    "RunDirectory",
    "check_output_dir",
    "check_output_file",
    "directory_state",
    "file_sha256",
]

MARKER_FILE: Final = ".policysim-run.json"
LOCK_FILE: Final = ".policysim.lock"
#: Path prefixes that are never run directories (special file systems).
_SPECIAL: Final = ("/dev", "/proc", "/sys")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bad(option: str, path: Path, message: str, expected: str) -> ScenarioError:
    return ScenarioError(None, message, key_path=option, value=str(path), expected=expected)


def _special(path: Path) -> bool:
    text = str(path)
    return any(text == p or text.startswith(p + "/") for p in _SPECIAL)


def _check_parents(path: Path, option: str, expected: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable directory."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise _bad(option, path, f"{parent} is a file, not a folder", expected)
            if not os.access(parent, os.W_OK | os.X_OK):
                raise _bad(option, path, f"folder {parent} is not writable", expected)
            return
        if parent.is_symlink():  # a dangling link
            raise _bad(option, path, f"{parent} is a broken link", expected)


def check_output_dir(path: Path, *, option: str = "--out") -> Path:
    """Check a run directory path before any work: one-line errors, nothing created.

    Raises
    ------
    ScenarioError
        The path is a special file (``/dev/null``) or on a special file system (``/proc``), an
        existing file, below a file, or in (or is) a folder that is not writable.
    """
    expected = "a new or policysim-made folder in a writable place"
    raw = Path(path)
    try:
        resolved = raw.expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        raise _bad(option, raw, f"cannot resolve the path ({exc})", expected) from None
    if _special(resolved):
        raise _bad(option, raw, "a special file system, not a folder for results", expected)
    if resolved.exists() or resolved.is_symlink():
        if not resolved.is_dir():
            raise _bad(option, raw, "exists and is not a folder", expected)
        if not os.access(resolved, os.W_OK | os.X_OK):
            raise _bad(option, raw, "folder is not writable", expected)
        return resolved
    _check_parents(resolved, option, expected)
    return resolved


def check_output_file(path: Path, *, option: str = "--out") -> Path:
    """Check an output file path (e.g. ``calibrate --out``) before any work."""
    expected = "a file path in a writable folder"
    raw = Path(path)
    try:
        resolved = raw.expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        raise _bad(option, raw, f"cannot resolve the path ({exc})", expected) from None
    if _special(resolved):
        raise _bad(option, raw, "a special file system, not a file for results", expected)
    if resolved.exists():
        if not resolved.is_file():
            raise _bad(option, raw, "exists and is not a regular file", expected)
        if not os.access(resolved, os.W_OK):
            raise _bad(option, raw, "file is not writable", expected)
    _check_parents(resolved, option, expected)
    return resolved


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _read_marker(root: Path) -> dict[str, Any] | None:
    """The marker's content; None if absent; raises when it is not a JSON object."""
    path = root / MARKER_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict) or "state" not in data:
        raise ScenarioError(
            path,
            "damaged run directory: the marker is not a policysim marker",
            expected="--force to start over in this folder, or another --out",
        )
    return data


def _lock_holder(root: Path) -> str:
    try:
        info = json.loads((root / LOCK_FILE).read_text(encoding="utf-8"))
        return f"pid {info.get('pid')} on {info.get('host')}, since {info.get('started')}"
    except (OSError, ValueError, AttributeError):
        return "another process"


def _try_lock(path: Path) -> int | None:
    """An exclusive ``flock`` on ``path`` (created if needed): the descriptor, or None if held.

    After locking, the file must still be the one at ``path`` (a releasing holder unlinks it):
    otherwise try again on the new file."""
    import fcntl

    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return None
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def lock_held(root: Path) -> bool:
    """True when a live process holds the directory's lock."""
    path = Path(root) / LOCK_FILE
    if not path.exists():
        return False
    fd = _try_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


#: Lock of an ensemble store (``DIR/.parts``), held by :func:`~policysim.experiments.run_ensemble`
#: while it writes there, from the CLI or the Python API alike.
STORE_LOCK_FILE: Final = ".lock"


class StoreLock:
    """Exclusive use of an ensemble store by one ensemble (an ``flock`` the kernel releases when
    the process dies). Two ensembles streaming into one folder would store each other's runs.

    Raises
    ------
    ScenarioError
        When another live ensemble holds the store.
    """

    def __init__(self, parts_dir: Path) -> None:
        self.path = Path(parts_dir) / STORE_LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _try_lock(self.path)
        if fd is None:
            raise ScenarioError(
                self.path.parent.parent,
                "another ensemble is writing to this folder",
                key_path="store",
                expected="one ensemble at a time per run directory (another --out)",
            )
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None


@dataclass
class RunDirectory:
    """Exclusive, checked access to a run directory for one command (a context manager).

    Parameters
    ----------
    path : pathlib.Path
        The run directory.
    command : str
        The command writing it (``run``, ``compare``...), recorded in the marker.
    resume : bool
        Continue an interrupted run (the directory must hold one).
    force : bool
        Write into a folder policysim did not create, or replace the run it holds.
    key : mapping, optional
        What the runs depend on (the resume key), recorded in the marker.
    resumable : bool
        The command has ``--resume`` (said in the refusal of an interrupted directory).

    On entry the path is checked, the lock taken and the state checked; on a normal exit nothing
    changes (call :meth:`complete` when every file is written); on an error before anything but
    the marker was written, a directory this command created is removed again (no partial
    output).
    """

    path: Path
    command: str
    resume: bool = False
    force: bool = False
    key: Mapping[str, Any] | None = None
    resumable: bool = False
    previous: dict[str, Any] | None = field(default=None, init=False)
    _fd: int | None = field(default=None, init=False)
    _created: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    # -- entry -----------------------------------------------------------------------------------
    def __enter__(self) -> RunDirectory:
        root = self.path
        check_output_dir(root)
        if not root.exists():
            try:
                root.mkdir(parents=True)
            except OSError as exc:
                raise _bad(
                    "--out", root, f"cannot create the folder ({exc.strerror})", "a writable place"
                ) from None
            self._created = True
        try:
            fd = _try_lock(root / LOCK_FILE)
        except OSError as exc:
            raise _bad(
                "--out", root, f"cannot lock the folder ({exc.strerror})", "a writable folder"
            ) from None
        if fd is None:
            raise ScenarioError(
                root,
                f"another policysim command is writing to this folder ({_lock_holder(root)})",
                expected="to wait for it to finish, or another --out",
            )
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
            os.write(fd, json.dumps(info).encode())
            self._check_state()
        except BaseException:
            self._release(remove_created=True)
            raise
        return self

    def _check_state(self) -> None:
        root = self.path
        marker = _read_marker(root) if not self.force else self._marker_or_none()
        self.previous = marker
        if marker is None and (root / ".parts" / "config.json").is_file():
            # an interrupted ensemble written through the Python API: the store checks its key
            marker = {"state": "in progress", "command": "ensemble", "files": {}}
            self.previous = marker
        if marker is None:
            own = {LOCK_FILE}
            foreign = [p.name for p in root.iterdir() if p.name not in own]
            if self.resume:
                raise ScenarioError(
                    root,
                    "nothing to resume: not a policysim run directory",
                    expected="the --out folder of an interrupted run",
                )
            if foreign and not self.force:
                raise ScenarioError(
                    root,
                    f"folder not made by policysim and not empty ({len(foreign)} entries, "
                    f"e.g. {sorted(foreign)[0]!r})",
                    expected="a new folder for --out, or --force to write into it",
                )
            self._write_marker("in progress", files={})
            return
        state = marker.get("state")
        what = marker.get("command", "run")
        if self.resume:
            if state == "complete":
                self._check_key(marker)
                raise AlreadyCompleteError(root, marker)
            self._check_key(marker)
            return
        if not self.force:
            if state == "complete":
                raise ScenarioError(
                    root,
                    f"holds a complete {what} (finished {marker.get('ended', '?')})",
                    expected="another --out, or --force to replace it",
                )
            raise ScenarioError(
                root,
                f"holds an interrupted {what} ensemble",
                expected=(
                    "--resume to continue it, --force to start over, or another --out"
                    if self.resumable
                    else "--force to start over, or another --out"
                ),
            )
        self._remove_previous(marker)
        self._write_marker("in progress", files={})

    def _marker_or_none(self) -> dict[str, Any] | None:
        try:
            return _read_marker(self.path)
        except ScenarioError:
            return {"state": "damaged", "files": {}}

    def _check_key(self, marker: Mapping[str, Any]) -> None:
        stored = marker.get("key")
        if self.key is None or not isinstance(stored, dict):
            return
        describe_key_change(self.path / MARKER_FILE, stored, self.key)

    def _remove_previous(self, marker: Mapping[str, Any]) -> None:
        """--force: delete what the earlier run recorded as its own, and its parts (a study's
        too)."""
        from policysim.experiments.store import remove_study_stores

        files = marker.get("files")
        names = list(files) if isinstance(files, dict) else []
        for name in names:
            target = (self.path / str(name)).resolve()
            if self.path.resolve() in target.parents and target.is_file():
                target.unlink(missing_ok=True)
        remove_study_stores(self.path)
        figures = self.path / "figures"
        with contextlib.suppress(OSError):
            figures.rmdir()  # only if empty

    # -- marker ----------------------------------------------------------------------------------
    def _write_marker(self, state: str, *, files: Mapping[str, Any], **extra: Any) -> None:
        from policysim.experiments.store import write_bytes

        data: dict[str, Any] = {
            "policysim": "run directory",
            "command": self.command,
            "state": state,
            "started": (self.previous or {}).get("started", _now()) if self.resume else _now(),
            "key": None if self.key is None else dict(self.key),
            "files": dict(files),
            **extra,
        }
        write_bytes(
            self.path / MARKER_FILE,
            json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, default=str).encode(),
        )

    def complete(self, written: Mapping[str, Path], **extra: Any) -> None:
        """Record the directory as complete, with the checksum of every file written."""
        root = self.path.resolve()
        files: dict[str, str] = {}
        for p in written.values():
            path = Path(p).resolve()
            if path.is_file() and root in path.parents:
                files[str(path.relative_to(root))] = file_sha256(path)
        self._write_marker("complete", files=files, ended=_now(), **extra)

    # -- exit ------------------------------------------------------------------------------------
    def _release(self, *, remove_created: bool) -> None:
        root = self.path
        if remove_created and self._created:
            leftovers = [p for p in root.iterdir() if p.name not in (LOCK_FILE, MARKER_FILE)]
            if not leftovers:
                (root / MARKER_FILE).unlink(missing_ok=True)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                (root / LOCK_FILE).unlink()
            os.close(self._fd)
            self._fd = None
        if remove_created and self._created:
            with contextlib.suppress(OSError):
                root.rmdir()  # only if nothing else is left

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release(remove_created=exc_type is not None)


class AlreadyCompleteError(ScenarioError):
    """``--resume`` on a complete run directory (the same key): nothing to do."""

    exit_code = 0

    def __init__(self, root: Path, marker: Mapping[str, Any]) -> None:
        super().__init__(
            root,
            f"already complete ({marker.get('command', 'run')} finished "
            f"{marker.get('ended', '?')}): nothing to resume",
            expected="`policysim status` to check its files, --force to run it again",
        )


#: Human names of the resume key's parts (for the refusal message).
_KEY_NAMES: Final = {
    "scenario_hash": "the resolved scenario",
    "root_seed": "the root seed",
    "sampling": "the sampling design",
    "batch_size": "the draw batch size",
    "draws": "the explicit draws",
    "code_version": "the policysim code",
    "baseline": "the baseline data",
    "user_files": "a user file",
}


def describe_key_change(where: Path, stored: Mapping[str, Any], key: Mapping[str, Any]) -> None:
    """Raise a one-line error naming what differs between a stored resume key and ``key``."""
    for name, value in key.items():
        old = stored.get(name)
        if old == value:
            continue
        label = _KEY_NAMES.get(name, name)
        if isinstance(value, dict) and isinstance(old, dict):
            changed = sorted(k for k in {*value, *old} if value.get(k) != old.get(k))
            raise ScenarioError(
                where,
                f"cannot resume: {label} changed since the interrupted run "
                f"({', '.join(changed[:4])}{'...' if len(changed) > 4 else ''})",
                key_path=name,
                expected="the same inputs as the interrupted run, or --force to start over",
            )
        raise ScenarioError(
            where,
            f"cannot resume: {label} changed since the interrupted run",
            key_path=name,
            value=value,
            expected=f"{old!r} as stored, or --force to start over",
        )


@dataclass(frozen=True)
class DirectoryState:
    """What a run directory holds (``policysim status``).

    Attributes
    ----------
    state : str
        ``complete``, ``in progress``, ``running``, ``damaged``, ``missing`` or ``foreign``.
    detail : str
        One line for the user.
    """

    state: str
    detail: str

    @property
    def exit_code(self) -> int:
        """0 complete, 1 in progress or running, 2 damaged, missing or foreign."""
        return {"complete": 0, "in progress": 1, "running": 1}.get(self.state, 2)


def directory_state(root: Path) -> DirectoryState:
    """Read a run directory's state: its marker, lock, final files and parts (verified; a
    study's ensembles' parts too)."""
    from policysim.experiments.store import study_stores

    root = Path(root)
    if not root.exists():
        return DirectoryState("missing", f"{root}: no such folder")
    if not root.is_dir():
        return DirectoryState("foreign", f"{root}: not a folder")
    try:
        marker = _read_marker(root)
    except ScenarioError as exc:
        return DirectoryState("damaged", str(exc))
    stores = study_stores(root)
    if marker is None:
        if (stores[0].dir / "config.json").is_file():
            marker = {"state": "in progress", "command": "run", "files": {}}
        else:
            return DirectoryState("foreign", f"{root}: not a policysim run directory")
    what = marker.get("command", "run")
    if lock_held(root):
        return DirectoryState("running", f"{root}: {what} running ({_lock_holder(root)})")
    if marker.get("state") == "complete":
        files = marker.get("files") or {}
        for name, sha in sorted(files.items()):
            path = root / name
            if not path.is_file():
                return DirectoryState("damaged", f"{path}: missing from a complete {what}")
            if file_sha256(path) != sha:
                return DirectoryState("damaged", f"{path}: changed since the {what} finished")
        return DirectoryState(
            "complete",
            f"{root}: complete {what}, finished {marker.get('ended', '?')}, "
            f"{len(files)} files verified",
        )
    damaged = [bad for store in stores for bad in store.damaged_chunks()]
    if damaged:
        return DirectoryState(
            "damaged",
            f"{damaged[0]}: damaged part ({len(damaged)} in all); --resume recomputes them",
        )
    parts = [part for store in stores for part in store.parts()]
    runs = sum(last - first + 1 for first, last, _ in parts)
    return DirectoryState(
        "in progress",
        f"{root}: interrupted {what}, {len(parts)} chunks ({runs} runs) stored; "
        f"continue with --resume",
    )
