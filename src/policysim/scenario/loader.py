"""Load scenario files: YAML with line numbers → ``extends`` merge → ``--set`` overrides → schema.

Every failure becomes a :class:`~policysim.errors.ScenarioError` that names the file, the line, the
key path, the value and what was expected, on one line.

Merging rules of ``extends``: mappings merge key by key, any other value (lists included) replaces
the parent's value, and each entry of ``uncertainties`` is replaced whole (a distribution is one
value: a child that switches ``voucher_additionality`` from triangular to uniform must not inherit
the parent's ``mode``). Relative file paths in a scenario resolve against the folder of the file
that names them; paths given with ``--set`` resolve against the working directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policysim.errors import ScenarioError
from policysim.scenario.schema import Scenario
from policysim.scenario.validation import _line_for, _validation_error, _where
from policysim.scenario.yaml_lines import (
    _INDEX,
    _SET,
    MAX_DEPTH,
    KeyPath,
    Lines,
    _absolute,
    _dotted,
    _is_dir,
    _is_file,
    _read_yaml,
)
from policysim.scenario.yaml_lines import MAX_NODES as MAX_NODES

__all__ = ["LoadedScenario", "load_scenario", "parse_override", "scenario_hash"]

logger = logging.getLogger(__name__)
#: Sections whose entries ``extends`` replaces whole instead of merging key by key.
_ATOMIC_SECTIONS = ("uncertainties",)


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from.

    Attributes
    ----------
    scenario : Scenario
        The frozen, validated scenario.
    path : Path
        The file it was loaded from (absolute).
    resolved : dict
        The merged mapping (after ``extends`` and overrides) that was validated: what the manifest
        records.
    chain : tuple of Path
        The files merged, from the root ancestor to ``path``.
    overrides : tuple of str
        The ``key.path=value`` overrides applied, in order.
    lines : mapping
        Key path → (origin, 1-based line) of every key; the origin is a file name, or
        ``"--set key=value"`` with line 0 for overrides.
    """

    scenario: Scenario
    path: Path
    resolved: dict[str, Any]
    chain: tuple[Path, ...]
    overrides: tuple[str, ...] = ()
    lines: Mapping[KeyPath, tuple[str, int]] = field(default_factory=dict, repr=False)

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the resolved scenario, see :func:`scenario_hash`."""
        return scenario_hash(self.resolved)

    @property
    def name(self) -> str:
        """The scenario's ``metadata.name``."""
        return self.scenario.metadata.name

    def resolve_path(self, relative: str) -> Path:
        """Resolve a path written in the scenario relative to the scenario file's folder."""
        p = Path(relative)
        return p if p.is_absolute() else (self.path.parent / p)


def scenario_hash(resolved: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON (sorted keys, UTF-8) of a resolved scenario mapping."""
    text = json.dumps(resolved, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _deep_merge(
    base: dict[Any, Any], over: Mapping[Any, Any], path: KeyPath = ()
) -> dict[Any, Any]:
    """Mappings merge key by key; any other value (lists included) replaces the base value, and
    so does every entry of an atomic section."""
    out = dict(base)
    for key, value in over.items():
        atomic = len(path) == 1 and path[0] in _ATOMIC_SECTIONS
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not atomic:
            out[key] = _deep_merge(out[key], value, (*path, key))
        else:
            out[key] = value
    return out


def _replaced(child: Mapping[Any, Any], p: KeyPath) -> bool:
    """Whether the child mapping replaces (rather than merges into) a proper ancestor of ``p``."""
    node: Any = child
    for k, part in enumerate(p[:-1]):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, dict) or (k == 1 and p[0] in _ATOMIC_SECTIONS):
            return True
    return False


def _resolve(file: Path, stack: tuple[Path, ...]) -> tuple[dict[str, Any], Lines, tuple[Path, ...]]:
    file = _absolute(file)
    data, lines = _read_yaml(file)
    parent = data.get("extends")
    if parent is None:
        return data, lines, (file,)
    line = lines.get(("extends",), (str(file), 0))[1]
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError(
            file,
            "wrong type",
            line=line,
            key_path="extends",
            value=parent,
            expected="the path of another scenario file",
        )
    parent_path = Path(parent)
    if not parent_path.is_absolute():
        parent_path = file.parent / parent_path
    parent_path = _absolute(parent_path)
    if parent_path in (*stack, file):
        cycle = " -> ".join(p.name for p in (*stack, file, parent_path))
        raise ScenarioError(
            file,
            f"'extends' cycle: {cycle}",
            line=line,
            key_path="extends",
            value=parent,
            expected="a chain of scenarios without cycles",
        )
    if not _is_file(parent_path):
        raise ScenarioError(
            file,
            "extends a file that does not exist",
            line=line,
            key_path="extends",
            value=parent,
            expected="the path of another scenario file, relative to this one",
        )
    base, base_lines, chain = _resolve(parent_path, (*stack, file))
    child = {k: v for k, v in data.items() if k != "extends"}
    merged = _deep_merge(base, child)
    merged["extends"] = parent
    all_lines = {p: v for p, v in base_lines.items() if not _replaced(child, p)}
    all_lines.update(lines)
    return merged, all_lines, (*chain, file)


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """Parse ``key.path=value`` (value in YAML syntax: ``2.5``, ``optimal``, ``[1, 2]``).

    Path parts made of ASCII digits become integers (list indices and year keys).

    Raises
    ------
    ScenarioError
        If the text has no ``=``, an empty key or a value that is not YAML.
    """
    if "=" not in text:
        raise ScenarioError("--set", "override without '='", value=text, expected="key.path=value")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if not key.strip() or any(not p.strip() for p in parts):
        raise ScenarioError("--set", "empty key", value=text, expected="key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError, OverflowError, TypeError):
        raise ScenarioError(
            "--set", "value is not valid YAML", value=raw, key_path=key, expected="a YAML value"
        ) from None
    path: list[str | int] = []
    for p in parts:
        p = p.strip()
        path.append(int(p) if _INDEX.fullmatch(p) else p)
    if path[0] == "extends":
        # the chain is resolved before the overrides: an override of it would be ignored
        raise ScenarioError(
            "--set",
            "extends cannot be overridden",
            key_path="extends",
            value=text,
            expected="'extends:' in the scenario file",
        )
    return tuple(path), value


def _apply_override(data: dict[str, Any], path: KeyPath, value: Any, text: str) -> None:
    node: Any = data
    for i, part in enumerate(path[:-1]):
        if isinstance(node, dict):
            if part not in node or not isinstance(node[part], dict | list):
                node[part] = {}
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            raise ScenarioError(
                "--set",
                "cannot descend into this key",
                key_path=_dotted(path[: i + 1]),
                value=text,
                expected="a path of mapping keys or list indices",
            )
    last = path[-1]
    settable = isinstance(node, dict) or (
        isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node)
    )
    if settable:
        node[last] = value
    else:
        raise ScenarioError(
            "--set",
            "cannot set this key",
            key_path=_dotted(path),
            value=text,
            expected="a path of mapping keys or list indices",
        )


def _to_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_tuples(v) for k, v in value.items()}
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# public entry point


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> LoadedScenario:
    """Load, merge and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        The YAML scenario file.
    overrides : iterable of str
        ``key.path=value`` assignments applied after ``extends`` merging (``--set``).

    Returns
    -------
    LoadedScenario
        The validated scenario with its resolved mapping, ``extends`` chain and key lines.

    Raises
    ------
    ScenarioError
        On any problem, naming the file, line, key path, value and expectation.
    """
    file = _absolute(Path(path))
    data, lines, chain = _resolve(file, ())
    override_list = tuple(overrides)
    for text in override_list:
        key_path, value = parse_override(text)
        _apply_override(data, key_path, value, text)
        n = len(key_path)
        for p in [p for p in lines if len(p) > n and p[:n] == key_path]:
            del lines[p]
        lines[key_path] = (_SET + text, 0)
    written = _absolutise_paths(data, lines, file)
    try:
        scenario = Scenario.model_validate(_to_tuples(data))
    except ValidationError as exc:
        raise _validation_error(exc, data, lines, file) from None
    except RecursionError:
        raise ScenarioError(
            file, "nested too deeply", expected=f"at most {MAX_DEPTH} levels"
        ) from None
    _check_paths(scenario, file, lines, written)
    logger.debug("loaded scenario %s from %s", scenario.metadata.name, " <- ".join(map(str, chain)))
    return LoadedScenario(
        scenario=scenario,
        path=file,
        resolved=_jsonable(data),
        chain=chain,
        overrides=override_list,
        lines=lines,
    )


_PATH_KEYS: tuple[KeyPath, ...] = (("allocation", "fixed_plan"), ("baseline", "source"))
_BUILTIN_SOURCES = ("embedded", "china-synthetic")


def _absolutise_paths(
    data: dict[str, Any], lines: Mapping[KeyPath, tuple[str, int]], file: Path
) -> dict[KeyPath, str]:
    """Rewrite relative file paths to absolute ones, relative to the file that wrote them.

    Returns the paths as written, by key path, for error messages.
    """
    written: dict[KeyPath, str] = {}
    for key in _PATH_KEYS:
        node: Any = data
        for part in key[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        value = node.get(key[-1])
        if not isinstance(value, str) or value in _BUILTIN_SOURCES:
            continue
        written[key] = value
        p = Path(value)
        if p.is_absolute():
            continue
        origin, _ = _line_for(key, lines, file)
        base = Path.cwd() if origin.startswith(_SET) else Path(origin).parent
        node[key[-1]] = str(_absolute(base / p))
    return written


def _check_paths(
    scenario: Scenario,
    file: Path,
    lines: Mapping[KeyPath, tuple[str, int]],
    written: Mapping[KeyPath, str],
) -> None:
    """Files named in the scenario must exist (relative to the file that names them)."""
    checks: list[tuple[KeyPath, str | None, bool]] = [
        (("allocation", "fixed_plan"), scenario.allocation.fixed_plan, False),
    ]
    src = scenario.baseline.source
    if src not in _BUILTIN_SOURCES:
        checks.append((("baseline", "source"), src, True))
    for key, value, is_dir in checks:
        if value is None:
            continue
        p = Path(value)
        if _is_dir(p) if is_dir else _is_file(p):
            continue
        origin, line = _where(key, lines, file)
        what = "a directory of baseline CSV files" if is_dir else "an existing CSV file"
        alternatives = f", or one of {', '.join(_BUILTIN_SOURCES)}" if is_dir else ""
        raise ScenarioError(
            origin,
            f"path not found: {p}",
            line=line,
            key_path=_dotted(key),
            value=written.get(key, value),
            expected=f"{what}, relative to the file that names it{alternatives}",
        )
