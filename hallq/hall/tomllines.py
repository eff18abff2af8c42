"""Find the line of a setting in TOML text, so errors can say "file:line"."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r'^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\'))*)\s*='
)
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|#.*$')


def _bracket_depth(text: str) -> int:
    """How many more "[" than "]" a piece of TOML opens, ignoring strings and comments."""
    bare = _STRING_OR_COMMENT.sub("", text)
    return bare.count("[") - bare.count("]")


def _split_key(key: str) -> list[str]:
    return [
        part.strip().strip("\"'")
        for part in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", key)
    ]


def index_lines(text: str) -> dict[str, int]:
    """Map every table and key path ("services[2].prefix") to its 1-based line."""
    found: dict[str, int] = {}
    array_counts: dict[str, int] = {}
    table = ""
    in_multiline = False
    array_depth = 0  # inside an array value that spans lines: its "[" lines are not headers
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
            in_multiline = not in_multiline
            if not in_multiline:
                continue
        elif in_multiline:
            continue
        if array_depth > 0:
            array_depth = max(0, array_depth + _bracket_depth(line))
            continue
        header = _HEADER.match(line)
        if header:
            parts = _split_key(header.group(2))
            path = ""
            for i, part in enumerate(parts):
                path = f"{path}.{part}" if path else part
                is_last = i == len(parts) - 1
                if is_last and header.group(1) == "[[":
                    array_counts[path] = array_counts.get(path, 0) + 1
                if path in array_counts:
                    path = f"{path}[{array_counts[path] - 1}]"
            table = path
            found.setdefault(table, lineno)
            continue
        key = _KEY.match(line)
        if key:
            path = (
                ".".join([table, *_split_key(key.group(1))])
                if table
                else ".".join(_split_key(key.group(1)))
            )
            found.setdefault(path, lineno)
            array_depth = max(0, _bracket_depth(line[key.end() :]))
    return found


def line_of(text: str, path: str) -> int | None:
    """The line of `path`, or of the nearest enclosing setting that is written out."""
    lines = index_lines(text)
    probe = path
    while probe:
        if probe in lines:
            return lines[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return None
