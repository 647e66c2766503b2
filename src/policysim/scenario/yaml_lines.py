"""Scenario YAML read with the file and line of every key, and the key paths that name them
(see :mod:`policysim.scenario.loader`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from policysim.errors import ScenarioError

KeyPath = tuple[str | int, ...]
Lines = dict[KeyPath, tuple[str, int]]

#: Deepest nesting accepted in a scenario file (the schema needs 6 levels).
MAX_DEPTH = 64
#: Most YAML nodes a scenario may expand to (guards against alias bombs; the baseline has ~600).
MAX_NODES = 100_000
#: Tags a list or mapping may carry (no !!set, !!omap, !!python/...).
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
#: Origin recorded in the line map for keys set on the command line.
_SET = "--set "
#: A list index in a key path (``--set`` paths, pydantic error locations of year keys).
_INDEX = re.compile(r"-?[0-9]+")

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
