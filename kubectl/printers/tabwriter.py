"""Go's text/tabwriter column rules, used by ``describe`` (whose blocks align separately).

Cells are separated by tabs; every cell but a line's last is tab-terminated and belongs to
a column. A column block is a run of consecutive lines that have that column; each block
is as wide as its widest cell plus the padding. Nested columns align inside their block.
"""

from __future__ import annotations


def tabwrite(text: str, padding: int = 2) -> str:
    """Align tab-separated ``text`` the way ``tabwriter.NewWriter(w, 0, 8, padding, ' ', 0)``
    does."""
    trailing_newline = text.endswith("\n")
    lines = [line.split("\t") for line in text.split("\n")]
    if trailing_newline:
        lines = lines[:-1]
    widths: list[list[int]] = [[0] * max(len(cells) - 1, 0) for cells in lines]

    def fmt(line0: int, line1: int, col: int) -> None:
        i = line0
        while i < line1:
            if len(lines[i]) - 1 <= col:
                i += 1
                continue
            j, width = i, 0
            while j < line1 and len(lines[j]) - 1 > col:
                width = max(width, len(lines[j][col]))
                j += 1
            for k in range(i, j):
                widths[k][col] = width + padding
            fmt(i, j, col + 1)
            i = j

    fmt(0, len(lines), 0)
    out = []
    for cells, w in zip(lines, widths, strict=True):
        out.append("".join(c.ljust(w[n]) for n, c in enumerate(cells[:-1])) + cells[-1])
    return "\n".join(out) + ("\n" if trailing_newline else "")
