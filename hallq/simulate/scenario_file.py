"""Scenario files (TOML): read, parse into a `Scenario` and check, with errors that name the
file, the line, the field and what to write instead, as the hall configuration's do.
"""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import msgspec

from hallq.hall.tomllines import line_of
from hallq.simulate.scenario import Scenario, ScenarioError
from hallq.simulate.scenario_check import check_scenario

UNKNOWN = "unknown setting (misspelt?)"
_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_PLAIN = (
    ("Expected `int | null`", "expected a whole number"),
    ("Expected `float | null`", "expected a number"),
    ("Expected `str`", "expected text"),
    ("Expected `int`", "expected a whole number"),
    ("Expected `float`", "expected a number"),
    ("Expected `array`", "expected a list [...]"),
    ("Expected `object`", "expected a table"),
    ("Expected `object | null`", "expected a table"),
    ("got `str`", "got text"),
    ("got `array`", "got a list"),
    ("got `object`", "got a table"),
)


def _describe(message: str) -> tuple[str, str]:
    """msgspec's message as (field path, plain words)."""
    path = ""
    m = _MSGSPEC_PATH.search(message)
    if m:
        path = m.group("path").lstrip(".")
        message = message[: m.start()]
    for raw, plain in _PLAIN:
        message = message.replace(raw, plain)
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    if unknown:
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        message = UNKNOWN
    missing = re.match(r"Object missing required field `([^`]+)`", message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        message = "this setting is required"
    if "Invalid enum value" in message:
        message = 'use "lognormal", "exponential" or "deterministic"'
    return path, message


def _name_keys(raw: dict[str, Any], path: str, error: str) -> str:
    """msgspec writes a table key as "[...]" ("services[...].share"): find which key it is.

    Each key of that table is tried alone; the first that gives the same error is named.
    """
    while "[...]" in path:
        head, _, tail = path.partition("[...]")
        table: Any = raw
        for part in re.findall(r"[^.\[\]]+", head):
            table = table[int(part)] if isinstance(table, list) else table.get(part)
        if not isinstance(table, dict):
            return path
        found = None
        items = dict(table)
        try:
            for key, value in items.items():
                table.clear()
                table[key] = value
                try:
                    msgspec.convert(raw, Scenario, strict=True)
                except msgspec.ValidationError as e:
                    if str(e) == error:
                        found = key
                        break
        finally:
            table.clear()
            table.update(items)
        if found is None:
            return path
        path = f"{head}.{found}{tail}"
    return path


def _table_in(t: Any) -> Any:
    """The struct a field holds (through `X | None` and dict values), or None."""
    if isinstance(t, type) and issubclass(t, msgspec.Struct):
        return t
    if typing.get_origin(t) is dict:
        return _table_in(typing.get_args(t)[1])
    for arg in typing.get_args(t):
        found = _table_in(arg)
        if found is not None:
            return found
    return None


def _allowed(path: str) -> str:
    """The settings allowed in the table that holds `path`, for the error message."""
    table: Any = Scenario
    parts = re.findall(r"[^.\[\]]+", path)[:-1]
    for part in parts:
        if table is None:
            break
        if part.isdigit():
            continue
        if isinstance(table, dict):  # a table keyed by service code: this part is the key
            table = table["value"]
            continue
        fields = {f.encode_name: f.type for f in msgspec.structs.fields(table)}
        t = fields.get(part)
        table = {"value": _table_in(t)} if typing.get_origin(t) is dict else _table_in(t)
    if not isinstance(table, type):
        return ""
    names = [f.encode_name for f in msgspec.structs.fields(table)]
    return "; allowed: " + ", ".join(names)


def _locate(text: str, source: str, path: str, message: str) -> str:
    line = line_of(text, path) if path else None
    where = f"{source}:{line}" if line else source
    return f"{where}: {path}: {message}" if path else f"{where}: {message}"


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and check scenario text; raise ScenarioError naming every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError([f"{source}: not valid TOML: {e}"]) from None
    try:
        scenario = msgspec.convert(raw, Scenario, strict=True)
    except msgspec.ValidationError as e:
        path, message = _describe(str(e))
        path = _name_keys(raw, path, str(e))
        if message == UNKNOWN:
            message += _allowed(path)
        raise ScenarioError([_locate(text, source, path, message)]) from None
    problems = check_scenario(scenario)
    if problems:
        raise ScenarioError([_locate(text, source, p, m) for p, m in problems])
    return scenario


def read_scenario(path: str | Path) -> tuple[Scenario, str]:
    """Load and check a scenario file; also returns its text (for locating later errors)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{p}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError([f"{p}: cannot be read: {e}"]) from None
    return parse_scenario(text, str(p)), text


def locate_problems(text: str, source: str, problems: list[tuple[str, str]]) -> ScenarioError:
    """Problems found later (against the hall) as an error with the scenario's lines."""
    return ScenarioError([_locate(text, source, p, m) for p, m in problems])
