"""One shape of output for every benchmark: a table for people, the same figures as JSON for scripts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BenchReport:
    """A benchmark's result: ``rows`` under ``columns`` (a ratio against its in-run baseline among them)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    data: dict[str, Any]

    def table(self) -> str:
        cells = [[_cell(v) for v in row] for row in self.rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(self.columns)]
        line = lambda values: "  ".join(v.ljust(w) if i == 0 else v.rjust(w)  # noqa: E731
                                        for i, (v, w) in enumerate(zip(values, widths)))
        return "\n".join([self.title, line(self.columns), line(["-" * w for w in widths]), *map(line, cells)])

    def json(self) -> str:
        return json.dumps({"title": self.title, "columns": list(self.columns), "rows": [list(r) for r in self.rows],
                           "data": self.data}, indent=2, default=str)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
