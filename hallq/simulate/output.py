"""What the simulate commands print and write: text tables, the JSON, the picture."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a plain table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def deliver(
    json_text: Callable[[], str],
    json_out: Path | None,
    draw: Callable[[Path], None],
    plot_out: Path | None,
    summary: Callable[[], str],
) -> None:
    """Write the JSON (to a file, or to stdout for "-"), draw the picture, print the summary
    (to stderr when the JSON went to stdout) and the files written."""
    to_stdout = json_out is not None and str(json_out) == "-"
    if json_out is not None:
        text = json_text()
        if to_stdout:
            sys.stdout.write(text)
        else:
            json_out.write_text(text, encoding="utf-8")
    if plot_out is not None:
        draw(plot_out)
    out = sys.stderr if to_stdout else sys.stdout
    print(summary(), file=out)
    for path in (json_out, plot_out):
        if path is not None and not to_stdout:
            print(f"  wrote {path}", file=out)
