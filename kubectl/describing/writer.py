"""The describe page builder: indented ``Label:\\tvalue`` lines aligned like kubectl."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from kubectl.printers.age import age, parse_time
from kubectl.printers.tabwriter import tabwrite

NONE = "<none>"


class Page:
    """Collects lines (tab-separated cells, two spaces per level) and aligns them."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def line(self, level: int, *cells: Any) -> None:
        """One line at ``level``: cells joined with tabs (a label ``X:`` then values)."""
        self._lines.append("  " * level + "\t".join(str(c) for c in cells))

    def kv(self, level: int, label: str, value: Any) -> None:
        """``Label:  value`` (``<none>`` for empty values)."""
        text = NONE if value is None or value == "" else value
        self.line(level, f"{label}:", text)

    def map(self, level: int, label: str, values: dict[str, Any] | None, sep: str = "=") -> None:
        """``Labels:  a=1`` then further pairs under it, or ``<none>``."""
        if not values:
            self.kv(level, label, NONE)
            return
        items = sorted(values.items())
        first = True
        for k, v in items:
            text = f"{k}{sep}{v}"
            if first:
                self.line(level, f"{label}:", text)
                first = False
            else:
                self.line(level, "", text)

    def table(
        self,
        level: int,
        headers: list[str],
        rows: list[list[Any]],
        dashes: list[str] | None = None,
        underline: bool = True,
    ) -> None:
        """A small table with a dashed underline (``dashes`` when kubectl's differ from the
        headers' lengths, as "----" under "Age"), as under ``Events:``."""
        self.line(level, *headers)
        if underline:
            self.line(level, *(dashes or ["-" * len(h) for h in headers]))
        for r in rows:
            self.line(level, *r)

    def aligned_table(self, level: int, headers: list[str], rows: list[list[Any]]) -> None:
        """A table aligned on its own, so neighbouring lines do not widen its columns."""
        lines = [headers, ["-" * len(h) for h in headers], *[[str(c) for c in r] for r in rows]]
        text = tabwrite("\n".join("\t".join(line) for line in lines) + "\n", padding=2)
        for line in text.splitlines():
            self._lines.append("  " * level + line)

    def text(self) -> str:
        return tabwrite("\n".join(self._lines) + "\n", padding=2)


def when(ts: str | None) -> str:
    """A timestamp as describe prints it: ``Mon, 01 Jan 2024 12:00:00 +0000``."""
    t = parse_time(ts)
    if t is None:
        return NONE
    return t.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def event_rows(events: list[dict[str, Any]]) -> list[list[str]]:
    """Rows of the Events table, oldest first: Type, Reason, Age, From, Message."""

    def last(ev: dict[str, Any]) -> str:
        return str(
            ev.get("lastTimestamp")
            or ev.get("eventTime")
            or ev.get("firstTimestamp")
            or (ev.get("metadata") or {}).get("creationTimestamp")
            or ""
        )

    rows = []
    for ev in sorted(events, key=last):
        first = ev.get("firstTimestamp") or ev.get("eventTime") or last(ev)
        count = int(ev.get("count") or 1)
        when_text = age(last(ev))
        if count > 1:
            when_text = f"{when_text} (x{count} over {age(first)})"
        # kubectl 1.35 shows the component alone, and the sub-object before the message.
        src = ev.get("source") or {}
        source = src.get("component") or ev.get("reportingComponent") or "<unknown>"
        message = " ".join(str(ev.get("message") or "").split())
        field_path = (ev.get("involvedObject") or {}).get("fieldPath")
        if field_path:
            message = f"{field_path}: {message}"
        rows.append([ev.get("type") or "", ev.get("reason") or "", when_text, source, message])
    return rows


def events_section(page: Page, events: list[dict[str, Any]] | None) -> None:
    """The trailing ``Events:`` table (or ``Events:  <none>``)."""
    if events is None:
        return
    if not events:
        page.kv(0, "Events", NONE)
        return
    page.line(0, "Events:")
    page.table(
        1,
        ["Type", "Reason", "Age", "From", "Message"],
        event_rows(events),
        dashes=["----", "------", "----", "----", "-------"],
    )
