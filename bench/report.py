"""A plain table: measure, ours, baseline, ratio, target, result; a miss says by how much."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


@dataclass
class Row:
    measure: str
    ours: float  # seconds
    baseline: float  # seconds
    target: float | None  # the largest ratio that passes; None: for information

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target

    def result(self) -> str:
        if self.passed is None:
            return "(info)"
        if self.passed:
            return "PASS"
        allowed = self.baseline * self.target
        return (f"MISS by {self.ratio / self.target:.2f}x: {fmt_time(self.ours - allowed)} over "
                f"the {fmt_time(allowed)} the target allows")


def table(title: str, rows: list[Row]) -> str:
    head = ("measure", "ours", "baseline", "ratio", "target", "result")
    body = [(r.measure, fmt_time(r.ours), fmt_time(r.baseline), f"{r.ratio:.2f}x",
             "-" if r.target is None else f"<= {r.target:g}x", r.result()) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head) - 1)]
    lines = [title, ""]
    for cells in [head, tuple("-" * w for w in widths) + ("------",), *body]:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
                     + "  " + cells[-1])
    return "\n".join(lines)


def timed(fn, repeat: int, pick=statistics.median) -> tuple[float, object]:
    """Run `fn` `repeat` times: `pick` of the seconds each took (the median, or min for the best),
    and what the last run returned."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return pick(times), out
