"""What the CLI's commands print: tables on stdout, a progress bar on stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from affiliate_bridge_dev.terminal import printable


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], out: Any = None) -> None:
    """Left-aligned columns sized to their content; '-' for missing values. Values may
    come from a provider or the affiliate API: printed as printable characters only."""
    out = out or sys.stdout
    cells = [[printable(str(row.get(c))) if row.get(c) not in (None, "") else "-" for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)
    if not rows:
        print("(none)", file=out)


class Progress:
    """``label [#####.....] 12/40`` redrawn in place on a terminal; silent otherwise (a
    log or a pipe gets the summary only)."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.shown = self.stream.isatty() and total > 0

    def update(self, done: int) -> None:
        if not self.shown:
            return
        filled = self.WIDTH * done // self.total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
