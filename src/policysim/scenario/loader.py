"""Load scenario files: YAML with line numbers → ``extends`` merge → ``--set`` overrides → schema.

Every failure becomes a :class:`~policysim.errors.ScenarioError` that names the file, the line, the
key path, the value and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policysim.errors import ScenarioError
from policysim.scenario.schema import Scenario

KeyPath = tuple[str | int, ...]

__all__ = ["LoadedScenario", "load_scenario", "parse_override", "scenario_hash"]


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from.

    Attributes
    ----------
    scenario : Scenario
        The frozen, validated scenario.
    path : Path
        The file it was loaded from.
    resolved : dict
        The merged mapping (after ``extends`` and overrides) that was validated: what the manifest
        records.
    chain : tuple of Path
        The files merged, from the root ancestor to ``path``.
    """

    scenario: Scenario
    path: Path
    resolved: dict[str, Any]
    chain: tuple[Path, ...]
    overrides: tuple[str, ...] = ()
    lines: Mapping[KeyPath, tuple[str, int]] = field(default_factory=dict, repr=False)

    @property
    def hash(self) -> str:
        return scenario_hash(self.resolved)

    @property
    def name(self) -> str:
        return self.scenario.metadata.name

    def resolve_path(self, relative: str) -> Path:
        """Resolve a path written in the scenario relative to the scenario file's folder."""
        p = Path(relative)
        return p if p.is_absolute() else (self.path.parent / p)


def scenario_hash(resolved: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a resolved scenario mapping."""
    text = json.dumps(resolved, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# YAML with line numbers


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader; duplicate keys are found while walking the composed node tree."""


def _compose(text: str, file: Path) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        problem = exc.problem or "malformed YAML"
        raise ScenarioError(file, f"malformed YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(file, f"malformed YAML: {exc}") from None


def _construct(
    node: yaml.Node, file: Path, path: KeyPath, lines: dict[KeyPath, tuple[str, int]]
) -> Any:
    lines[path] = (str(file), node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ScenarioError(
                    file,
                    "YAML merge keys (<<) are not supported; use 'extends:'",
                    line=key_node.start_mark.line + 1,
                )
            key = _scalar(key_node, file)
            if isinstance(key, list | dict) or key is None:
                raise ScenarioError(
                    file, "a key must be a name or a year", line=key_node.start_mark.line + 1
                )
            if key in out:
                raise ScenarioError(
                    file,
                    "duplicate key",
                    line=key_node.start_mark.line + 1,
                    key_path=_dotted((*path, key)),
                    expected="each key once per mapping",
                )
            out[key] = _construct(value_node, file, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, file, (*path, i), lines) for i, v in enumerate(node.value)]
    return _scalar(node, file)


def _scalar(node: yaml.Node, file: Path) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise ScenarioError(file, "a key must be a scalar", line=node.start_mark.line + 1)
    loader = _UniqueKeyLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise ScenarioError(
            file, f"malformed YAML value: {exc.problem}", line=node.start_mark.line + 1
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


def _read_yaml(file: Path) -> tuple[dict[str, Any], dict[KeyPath, tuple[str, int]]]:
    if not file.exists():
        raise ScenarioError(file, "file not found", expected="an existing scenario file")
    if file.is_dir():
        raise ScenarioError(file, "is a directory", expected="a scenario YAML file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(file, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ScenarioError(file, f"cannot be read: {exc.strerror}") from None
    node = _compose(text, file)
    lines: dict[KeyPath, tuple[str, int]] = {}
    if node is None:
        raise ScenarioError(file, "is empty", expected="a YAML mapping of scenario sections")
    data = _construct(node, file, (), lines)
    if not isinstance(data, dict):
        raise ScenarioError(
            file, "top level is not a mapping", line=1, expected="a mapping of scenario sections"
        )
    return data, lines


# ---------------------------------------------------------------------------------------------
# extends, merge, overrides


def _deep_merge(
    base: dict[str, Any], over: Mapping[str, Any]
) -> dict[str, Any]:
    """Mappings merge key by key; any other value (lists included) replaces the base value."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(
    file: Path, stack: tuple[Path, ...]
) -> tuple[dict[str, Any], dict[KeyPath, tuple[str, int]], tuple[Path, ...]]:
    file = file.resolve()
    if file in stack:
        cycle = " -> ".join(p.name for p in (*stack, file))
        raise ScenarioError(
            stack[-1], f"'extends' cycle: {cycle}", key_path="extends",
            expected="a chain of scenarios without cycles",
        )
    data, lines = _read_yaml(file)
    parent = data.get("extends")
    if parent is None:
        return data, lines, (file,)
    if not isinstance(parent, str) or not parent:
        raise ScenarioError(
            file, "wrong type", line=lines.get(("extends",), (str(file), None))[1],
            key_path="extends", value=parent, expected="the path of another scenario file",
        )
    parent_path = Path(parent)
    if not parent_path.is_absolute():
        parent_path = file.parent / parent_path
    if not parent_path.exists():
        raise ScenarioError(
            file, "extends a file that does not exist",
            line=lines[("extends",)][1], key_path="extends", value=parent,
            expected="the path of another scenario file, relative to this one",
        )
    base, base_lines, chain = _resolve(parent_path, (*stack, file))
    merged = _deep_merge(base, {k: v for k, v in data.items() if k != "extends"})
    merged["extends"] = parent
    all_lines = dict(base_lines)
    all_lines.update(lines)
    return merged, all_lines, (*chain, file)


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """Parse ``key.path=value`` (value in YAML syntax: ``2.5``, ``optimal``, ``[1, 2]``).

    Raises
    ------
    ScenarioError
        If the text has no ``=`` or an empty key.
    """
    if "=" not in text:
        raise ScenarioError(
            "--set", "override without '='", value=text, expected="key.path=value"
        )
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".")]
    if not key.strip() or any(not p for p in parts):
        raise ScenarioError("--set", "empty key", value=text, expected="key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ScenarioError(
            "--set", "value is not valid YAML", value=raw, key_path=key, expected="a YAML scalar"
        ) from None
    path: list[str | int] = []
    for p in parts:
        path.append(int(p) if p.lstrip("-").isdigit() else p)
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
                "--set", "cannot descend into this key", key_path=_dotted(path[: i + 1]),
                value=text, expected="a path of mapping keys or list indices",
            )
    last = path[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node):
        node[last] = value
    else:
        raise ScenarioError(
            "--set", "cannot set this key", key_path=_dotted(path), value=text,
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


_EXPECTED = {
    "extra_forbidden": "no such key here",
    "missing": "a required key",
}


def _describe(err: Mapping[str, Any]) -> tuple[str, str | None]:
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", "invalid"))
    if kind == "extra_forbidden":
        return "unknown key", "one of the keys this section defines"
    if kind == "missing":
        return "required key missing", None
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    return msg, None


def _line_for(
    path: KeyPath, lines: Mapping[KeyPath, tuple[str, int]], default_file: Path
) -> tuple[str, int | None]:
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get((), (str(default_file), None))  # type: ignore[return-value]


def _lookup(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return ...
    return node


def _allowed_keys(path: KeyPath) -> list[str]:
    """Keys the schema defines at ``path`` (empty when not a fixed-key section)."""
    from pydantic import BaseModel

    model: Any = Scenario
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _model_of(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_of(annotation: Any) -> Any:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _validation_error(
    exc: ValidationError,
    data: Mapping[str, Any],
    lines: Mapping[KeyPath, tuple[str, int]],
    file: Path,
) -> ScenarioError:
    errors = exc.errors(include_url=False)
    # Report the first error: the message must stay on one line.
    err = errors[0]
    loc: list[str | int] = []
    for part in err["loc"]:
        # pydantic adds pseudo-locations for Literal/union members and dict keys
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        if part == "[key]":
            continue
        loc.append(part)
    # dict keys that were years come back as strings in loc; map them to the YAML key
    fixed: list[str | int] = []
    node: Any = data
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                fixed.append(part)
                node = node[part]
                continue
            if isinstance(part, str) and part.lstrip("-").isdigit() and int(part) in node:
                fixed.append(int(part))
                node = node[int(part)]
                continue
            fixed.append(part)
            node = None
        elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
            fixed.append(part)
            node = node[part]
        else:
            fixed.append(part)
            node = None
    message, expected = _describe(err)
    if message.startswith("@"):
        encoded, message = message[1:].split("@", 1)
        at = tuple(json.loads(encoded))
        fixed = [*fixed[: len(fixed)], *at] if not fixed else list(at)
        err = {**err, "type": "at_path", "input": _lookup(data, tuple(fixed))}
    path = tuple(fixed)
    src, line = _line_for(path, lines, file)
    if err.get("type") == "extra_forbidden":
        allowed = _allowed_keys(path[:-1])
        if allowed:
            expected = "one of " + ", ".join(allowed)
    value: Any = ...
    if err.get("type") != "missing":
        value = err.get("input", ...)
        if isinstance(value, dict | list | tuple) and err.get("type") not in (
            "dict_type", "tuple_type", "list_type"
        ):
            value = ...
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return ScenarioError(
        src, message + more, line=line, key_path=_dotted(path) or None, value=value,
        expected=expected,
    )


def load_scenario(
    path: str | Path, overrides: Iterable[str] = ()
) -> LoadedScenario:
    """Load, merge and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        The YAML scenario file.
    overrides : iterable of str
        ``key.path=value`` assignments applied after ``extends`` merging (``--set``).

    Raises
    ------
    ScenarioError
        On any problem, naming the file, line, key path, value and expectation.
    """
    file = Path(path)
    data, lines, chain = _resolve(file, ())
    override_list = tuple(overrides)
    for text in override_list:
        key_path, value = parse_override(text)
        _apply_override(data, key_path, value, text)
        lines[key_path] = ("--set " + text, 0)
    _absolutise_paths(data, lines, file)
    try:
        scenario = Scenario.model_validate(_to_tuples(data))
    except ValidationError as exc:
        raise _validation_error(exc, data, lines, file.resolve()) from None
    _check_paths(scenario, file, lines)
    return LoadedScenario(
        scenario=scenario,
        path=file.resolve(),
        resolved=_jsonable(data),
        chain=chain,
        overrides=override_list,
        lines=lines,
    )


_PATH_KEYS: tuple[KeyPath, ...] = (("allocation", "fixed_plan"), ("baseline", "source"))


def _absolutise_paths(
    data: dict[str, Any], lines: Mapping[KeyPath, tuple[str, int]], file: Path
) -> None:
    """Rewrite relative file paths to absolute ones, relative to the file that wrote them."""
    for key in _PATH_KEYS:
        node: Any = data
        for part in key[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        value = node.get(key[-1])
        if not isinstance(value, str) or value in ("embedded", "china-synthetic"):
            continue
        p = Path(value)
        if p.is_absolute():
            continue
        origin, _ = _line_for(key, lines, file)
        base = Path.cwd() if origin.startswith("--set") else Path(origin).parent
        node[key[-1]] = str((base / p).resolve())


def _check_paths(
    scenario: Scenario, file: Path, lines: Mapping[KeyPath, tuple[str, int]]
) -> None:
    """Files named in the scenario must exist (relative to the file that names them)."""
    checks: list[tuple[KeyPath, str | None, bool]] = [
        (("allocation", "fixed_plan"), scenario.allocation.fixed_plan, False),
    ]
    src = scenario.baseline.source
    if src not in ("embedded", "china-synthetic"):
        checks.append((("baseline", "source"), src, True))
    for key, value, is_dir in checks:
        if value is None:
            continue
        origin, line = _line_for(key, lines, file)
        p = Path(value)
        ok = p.is_dir() if is_dir else p.is_file()
        if not ok:
            raise ScenarioError(
                origin, "path not found", line=line, key_path=_dotted(key), value=value,
                expected=("a directory of baseline CSV files" if is_dir else "an existing CSV file")
                + " (relative to the scenario file)",
            )
