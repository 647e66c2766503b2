"""Scenario validation errors turned into one line naming the file, line, key path, value and
expectation (see :mod:`policysim.scenario.loader`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from policysim.errors import ScenarioError
from policysim.scenario.schema import Scenario
from policysim.scenario.yaml_lines import _INDEX, _SET, KeyPath, _dotted


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
