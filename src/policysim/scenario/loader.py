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
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from policysim.errors import ScenarioError
from policysim.scenario.schema import Scenario

KeyPath = tuple[str | int, ...]
Lines = dict[KeyPath, tuple[str, int]]

__all__ = ["LoadedScenario", "load_scenario", "parse_override", "scenario_hash"]

logger = logging.getLogger(__name__)

#: Deepest nesting accepted in a scenario file (the schema needs 6 levels).
MAX_DEPTH = 64
#: Most YAML nodes a scenario may expand to (guards against alias bombs; the baseline has ~600).
MAX_NODES = 100_000
#: Sections whose entries ``extends`` replaces whole instead of merging key by key.
_ATOMIC_SECTIONS = ("uncertainties",)
#: Tags a list or mapping may carry (no !!set, !!omap, !!python/...).
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
#: Origin recorded in the line map for keys set on the command line.
_SET = "--set "


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


# ---------------------------------------------------------------------------------------------
# YAML with line numbers


def _compose(text: str, file: Path) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        problem = exc.problem or "malformed YAML"
        if exc.context and exc.context_mark is not None:
            problem += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        raise ScenarioError(file, f"malformed YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(file, f"malformed YAML: {exc}") from None
    except RecursionError:
        raise ScenarioError(
            file, "malformed YAML: nested too deeply", expected=f"at most {MAX_DEPTH} levels"
        ) from None


class _Walker:
    """Turns a composed YAML node tree into Python values, recording the line of every key."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.lines: Lines = {}
        self.nodes = 0
        self.active: set[int] = set()

    def value(self, node: yaml.Node, path: KeyPath) -> Any:
        line = node.start_mark.line + 1
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ScenarioError(
                self.file,
                "YAML expands to too many values (aliases repeated?)",
                line=line,
                expected=f"at most {MAX_NODES} values",
            )
        if len(path) > MAX_DEPTH:
            raise ScenarioError(
                self.file,
                "nested too deeply",
                line=line,
                key_path=_dotted(path[:3]) + "...",
                expected=f"at most {MAX_DEPTH} levels",
            )
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return _scalar(node, self.file)
        if id(node) in self.active:
            raise ScenarioError(
                self.file,
                "YAML alias refers to a value that contains it",
                line=self.lines.get(path, (str(self.file), line))[1],
                key_path=_dotted(path) or None,
                expected="no recursive anchors",
            )
        if node.tag not in _COLLECTION_TAGS:
            raise ScenarioError(
                self.file,
                f"unsupported YAML tag {node.tag!r}",
                line=line,
                key_path=_dotted(path) or None,
                expected="a plain mapping or list",
            )
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                out_list: list[Any] = []
                for i, item in enumerate(node.value):
                    self.lines[(*path, i)] = (str(self.file), item.start_mark.line + 1)
                    out_list.append(self.value(item, (*path, i)))
                return out_list
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ScenarioError(
                    self.file,
                    "YAML merge keys (<<) are not supported",
                    line=line,
                    key_path=_dotted(path) or None,
                    expected="'extends:' to inherit another scenario",
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise ScenarioError(
                    self.file,
                    "a key is a list or mapping",
                    line=line,
                    key_path=_dotted(path) or None,
                    expected="a key that is a name or a year",
                )
            key = _scalar(key_node, self.file)
            if key is None or isinstance(key, bool) or not isinstance(key, str | int):
                raise ScenarioError(
                    self.file,
                    f"key {key!r} is not a name or a year",
                    line=line,
                    key_path=_dotted(path) or None,
                    expected="a key that is a name or a year",
                )
            if key in out:
                raise ScenarioError(
                    self.file,
                    "duplicate key",
                    line=line,
                    key_path=_dotted((*path, key)),
                    expected="each key once per mapping",
                )
            self.lines[(*path, key)] = (str(self.file), line)
            out[key] = self.value(value_node, (*path, key))
        return out


def _scalar(node: yaml.Node, file: Path) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(
            file, f"malformed YAML value: {problem}", line=node.start_mark.line + 1
        ) from None
    except (ValueError, OverflowError, TypeError) as exc:
        # e.g. a timestamp with month 13, or an integer of more than 4300 digits
        raise ScenarioError(
            file, f"unreadable YAML value: {exc}", line=node.start_mark.line + 1
        ) from None
    finally:
        loader.dispose()


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):  # name too long, embedded NUL, permission denied
        return False


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except (OSError, ValueError):
        return False


def _absolute(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, ValueError, RuntimeError):  # RuntimeError: symlink loop (Python < 3.13)
        return Path.cwd() / p


def _read_yaml(file: Path) -> tuple[dict[str, Any], Lines]:
    if _is_dir(file):
        raise ScenarioError(file, "is a directory", expected="a scenario YAML file")
    if not _is_file(file):
        raise ScenarioError(file, "file not found", expected="an existing scenario file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(file, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ScenarioError(file, f"cannot be read: {exc.strerror}") from None
    node = _compose(text, file)
    if node is None:
        raise ScenarioError(file, "is empty", expected="a YAML mapping of scenario sections")
    walker = _Walker(file)
    walker.lines[()] = (str(file), node.start_mark.line + 1)
    data = walker.value(node, ())
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the value {data!r}"
        raise ScenarioError(
            file,
            f"top level is {kind}",
            line=node.start_mark.line + 1,
            expected="a mapping of scenario sections such as metadata: and budget:",
        )
    return data, walker.lines


# ---------------------------------------------------------------------------------------------
# extends, merge, overrides


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


_INDEX = re.compile(r"-?[0-9]+")


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
# validation errors → one line naming file, line, key path, value, expectation


def _describe(err: Mapping[str, Any]) -> tuple[str, str | None]:
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", "invalid"))
    if kind == "extra_forbidden":
        return "unknown key", "one of the keys this section defines"
    if kind == "missing":
        return "required key missing", None
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg, None


def _line_for(
    path: KeyPath, lines: Mapping[KeyPath, tuple[str, int]], default_file: Path
) -> tuple[str, int | None]:
    """Origin and line of ``path`` or of its nearest ancestor present in ``lines``."""
    p = tuple(path)
    while p:
        if p in lines:
            origin, line = lines[p]
            return origin, (line or None)
        p = p[:-1]
    origin, line = lines.get((), (str(default_file), 0))
    return origin, (line or None)


def _where(
    path: KeyPath, lines: Mapping[KeyPath, tuple[str, int]], file: Path
) -> tuple[str, int | None]:
    """Like :func:`_line_for`, but an override names the scenario file and the ``--set``."""
    origin, line = _line_for(path, lines, file)
    if origin.startswith(_SET):
        return f"{file} ({origin})", None
    return origin, line


def _lookup(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            return ...
        node = node[part]
    return node


def _allowed_keys(path: KeyPath) -> list[str]:
    """Keys the schema defines at ``path`` (empty when not a fixed-key section)."""
    model: Any = Scenario
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        info = model.model_fields.get(str(part))
        if info is None:
            return []
        model = _model_of(info.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _key_named_in(message: str, node: Any) -> str | None:
    """The first key of mapping ``node`` that ``message`` names (a model-level check such as
    "ceiling_100m_cny 0.01 is below floor_100m_cny" is located at ``ceiling_100m_cny``)."""
    if not isinstance(node, dict):
        return None
    for word in _WORD.findall(message):
        if word in node:
            return str(word)
    return None


def _error_path(loc: Sequence[Any], data: Mapping[str, Any]) -> list[str | int]:
    """Map a pydantic error location onto the key path of the YAML mapping."""
    fixed: list[str | int] = []
    node: Any = data
    for part in loc:
        # pydantic adds pseudo-locations for Literal/union members, validators and dict keys
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        if isinstance(node, dict):
            if part in node:
                fixed.append(part)
                node = node[part]
                continue
            # dict keys that were years come back as strings in loc
            if isinstance(part, str) and _INDEX.fullmatch(part) and int(part) in node:
                fixed.append(int(part))
                node = node[int(part)]
                continue
        elif isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            fixed.append(part)
            node = node[part]
            continue
        fixed.append(part)
        node = None
    return fixed


def _validation_error(
    exc: ValidationError,
    data: Mapping[str, Any],
    lines: Mapping[KeyPath, tuple[str, int]],
    file: Path,
) -> ScenarioError:
    errors = exc.errors(include_url=False)
    # Report the first error: the message must stay on one line.
    err = errors[0]
    kind = str(err.get("type", ""))
    fixed = _error_path(err["loc"], data)
    message, expected = _describe(err)
    value: Any = err.get("input", ...)
    if message.startswith("@") and message.count("@") >= 2:
        encoded, message = message[1:].split("@", 1)
        fixed = list(json.loads(encoded))
        kind = "at_path"
        value = _lookup(data, tuple(fixed))
    elif kind == "value_error":
        # a model-level check: point at the key the message names, if any
        key = _key_named_in(message, _lookup(data, tuple(fixed)))
        if key is not None:
            fixed.append(key)
            value = _lookup(data, tuple(fixed))
    path = tuple(fixed)
    if isinstance(value, tuple):  # lists were made tuples for the schema: show the YAML value
        found = _lookup(data, path)
        value = value if found is ... else found
    src, line = _where(path, lines, file)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1])
        if allowed:
            expected = "one of " + ", ".join(allowed)
    if kind == "missing" or (
        isinstance(value, dict | list | tuple)
        and kind not in ("dict_type", "tuple_type", "list_type", "model_type")
    ):
        value = ...
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return ScenarioError(
        src,
        message + more,
        line=line,
        key_path=_dotted(path) or None,
        value=value,
        expected=expected,
    )


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
