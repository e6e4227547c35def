"""Aligned columns the way kubectl's tabwriter lays them out (3 spaces between columns)."""

from __future__ import annotations

from collections.abc import Sequence

PADDING = 3


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Render ``headers`` and ``rows`` as text; every line ends with a newline.

    Each column but the last is padded to its widest cell plus three spaces, exactly like
    ``tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)`` in kubectl, so the last column never
    carries trailing spaces.
    """
    lines = [list(headers), *[list(r) for r in rows]] if headers else [list(r) for r in rows]
    return render_lines(lines)


def render_lines(lines: Sequence[Sequence[str]], widths: Sequence[int] | None = None) -> str:
    """Render pre-split lines; ``widths`` (from an earlier block, e.g. the header of a
    watch) keeps later rows aligned with what was printed before."""
    if not lines:
        return ""
    cols = max(len(line) for line in lines)
    w = list(widths) if widths else column_widths(lines)
    w += [0] * (cols - len(w))
    out = []
    for line in lines:
        cells = [str(c) for c in line]
        parts = [c.ljust(w[i] + PADDING) if i < len(cells) - 1 else c for i, c in enumerate(cells)]
        out.append("".join(parts))
    return "\n".join(out) + "\n"


def column_widths(lines: Sequence[Sequence[str]]) -> list[int]:
    """The widest cell of each column."""
    cols = max((len(line) for line in lines), default=0)
    widths = [0] * cols
    for line in lines:
        for i, c in enumerate(line):
            widths[i] = max(widths[i], len(str(c)))
    return widths
