"""The cache of response curves and optimal plans: a user folder, keys from the content of
what an entry depends on (scenario, baseline files, code), checksums verified on every read."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from policysim.scenario.schema import Scenario

logger = logging.getLogger("policysim.coupling")

FloatArray = NDArray[np.float64]


#: Format of the cache entries (part of every key).
CACHE_FORMAT: Final = 2


def cache_dir(create: bool = True) -> Path:
    """Folder of cached response curves and open-loop plans: ``POLICYSIM_CACHE``, else the
    user's cache folder (platform convention, e.g. ``~/.cache/policysim`` on Linux; private to
    the user, never the shared temporary folder). Entries are keyed by the content of what they
    depend on (scenario, baseline files, code), carry a checksum verified on every read, and are
    written atomically and shared by the worker processes of an ensemble."""
    import platformdirs

    root = os.environ.get("POLICYSIM_CACHE")
    path = Path(root) if root else Path(platformdirs.user_cache_dir("policysim", appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


#: The layers whose code a cached curve or plan depends on (a module or a package each).
FINGERPRINT_LAYERS: Final = (
    "model", "coupling", "simulation", "agents", "allocation", "data", "scenario",
)  # fmt: skip


def fingerprint_files() -> list[Path]:
    """The source files of :data:`FINGERPRINT_LAYERS` (``name.py`` or every ``.py`` file of the
    package ``name``), sorted."""
    import policysim

    root = Path(policysim.__file__).parent
    files: list[Path] = []
    for name in FINGERPRINT_LAYERS:
        files.extend(root.glob(f"{name}.py"))
        files.extend(root.glob(f"{name}/**/*.py"))
    return sorted(files)


@functools.cache
def _code_fingerprint() -> str:
    """Hash of the model and allocation sources: a cached curve or plan is reused only by the
    code that made it."""
    digest = hashlib.sha256()
    for path in fingerprint_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def code_fingerprint() -> str:
    """Hash of every policysim source file (the code version of a resume key)."""
    import policysim

    root = Path(policysim.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


#: What the response curves do not depend on: the scenario's name and the optimiser's own
#: settings (the model reads no allocation setting; the curves are runs of the model with fixed
#: plans), so optimal and closed_loop variants of one scenario share their curves.
_NOT_IN_RESPONSE: Final = ("strategy", "objective", "solver", "verification")


def _keyed_dump(scenario: Scenario, kind: str) -> Any:
    dump = scenario.model_dump(mode="json")
    if kind == "response":
        dump.pop("metadata", None)
        for k in _NOT_IN_RESPONSE:
            dump["allocation"].pop(k, None)
    return dump


def _cache_key(scenario: Scenario, kind: str) -> str:
    from policysim import __version__
    from policysim.data import SYNTHESIS_VERSION
    from policysim.simulation import baseline_for

    text = json.dumps(
        [
            kind,
            CACHE_FORMAT,
            __version__,
            SYNTHESIS_VERSION,
            _code_fingerprint(),
            _keyed_dump(scenario, kind),
            dict(baseline_for(scenario).checksums),  # edited baseline files: another key
        ],
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _arrays_digest(key: str, arrays: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(key.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(name.encode())
        digest.update(str(a.dtype).encode())
        digest.update(str(a.shape).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _save_npz(path: Path, arrays: Mapping[str, Any], key: str = "") -> None:
    """Write a cache entry atomically, with the checksum of its arrays and key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    entry = {**arrays, "_sha256": np.array(_arrays_digest(key, arrays))}
    try:
        with tmp.open("wb") as fh:
            np.savez(fh, **entry)
        os.replace(tmp, path)
    except OSError as exc:  # a full or read-only cache folder: computed again next time
        logger.warning("cannot write the cache entry %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()


def _load_npz(path: Path, key: str) -> dict[str, Any] | None:
    """A verified cache entry, or None (absent, unreadable or failing its checksum: the entry
    is removed and recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        stored = str(arrays.pop("_sha256"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("ignoring the unreadable cache entry %s: %s", path, exc)
        stored, arrays = "", {}
    if not arrays or stored != _arrays_digest(key, arrays):
        logger.warning("ignoring the cache entry %s: it fails its checksum", path)
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return arrays


def cache_entries() -> list[tuple[Path, int, float]]:
    """Cached entries ``(path, bytes, modification time)`` (``policysim cache list``)."""
    root = cache_dir(create=False)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.glob("*.npz")):
        if p.name.startswith(("response-", "plan-")):
            st = p.stat()
            out.append((p, st.st_size, st.st_mtime))
    return out


def clear_cache() -> int:
    """Delete the cached entries (only policysim's own files); the number removed."""
    n = 0
    for p, _, _ in cache_entries():
        p.unlink(missing_ok=True)
        n += 1
    return n
