"""Cron expressions as colonies parses them (its pkg/cron, a fork of robfig/cron): six fields
``second minute hour day-of-month month day-of-week`` (``*``, ``?``, lists, ranges, ``a/step``,
month and weekday names), the descriptors @yearly/@monthly/@weekly/@daily/@hourly and
``@every <duration>``, evaluated in the server's local time. No dependency for one small parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = {
    m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_BOUNDS = [(0, 59, {}), (0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS)]
_FIELDS = ("second", "minute", "hour", "day of month", "month", "day of week")
_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


class CronError(ValueError):
    """The expression does not parse (the message names the field)."""


@dataclass(frozen=True)
class Schedule:
    sets: tuple[frozenset, ...] = ()
    dom_star: bool = True
    dow_star: bool = True
    every_s: float = 0.0

    def next(self, after: datetime) -> datetime:
        """The first activation strictly after ``after`` (whole seconds)."""
        if self.every_s:
            return after.replace(microsecond=0) + timedelta(seconds=max(1.0, self.every_s))
        sec, minute, hour, dom, month, dow = self.sets
        t = after.replace(microsecond=0) + timedelta(seconds=1)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if t.month not in month:
                t = (t.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
                continue
            day_ok_dom, day_ok_dow = t.day in dom, (t.isoweekday() % 7) in dow
            day_ok = (day_ok_dom and day_ok_dow) if (self.dom_star or self.dow_star) else (day_ok_dom or day_ok_dow)
            if not day_ok:
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
                continue
            if t.hour not in hour:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if t.minute not in minute:
                t = t.replace(second=0) + timedelta(minutes=1)
                continue
            if t.second not in sec:
                t += timedelta(seconds=1)
                continue
            return t
        raise CronError("the cron expression never fires")


def _value(text: str, names: dict, lo: int, hi: int, what: str) -> int:
    key = text.lower()
    if key in names:
        return names[key]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text!r} in the {what} field")
    v = int(text)
    if what == "day of week" and v == 7:
        v = 0
    if not lo <= v <= hi:
        raise CronError(f"{what} value {v} is out of range [{lo}, {hi}]")
    return v


def _field(text: str, i: int) -> tuple[frozenset, bool]:
    lo, hi, names = _BOUNDS[i]
    what = _FIELDS[i]
    out: set[int] = set()
    star = False
    for part in text.split(","):
        rng, _, step_s = part.partition("/")
        step = 1
        if step_s:
            if not step_s.isdigit() or int(step_s) == 0:
                raise CronError(f"invalid step {step_s!r} in the {what} field")
            step = int(step_s)
        if rng in ("*", "?"):
            a, b = lo, hi
            star = star or not step_s
        elif "-" in rng:
            a_s, b_s = rng.split("-", 1)
            a, b = _value(a_s, names, lo, hi, what), _value(b_s, names, lo, hi, what)
        else:
            a = _value(rng, names, lo, hi, what)
            b = hi if step_s else a
        if a > b:
            raise CronError(f"beginning of range ({a}) beyond end of range ({b}) in the {what} field")
        out.update(range(a, b + 1, step))
    return frozenset(out), star


def parse(expr: str) -> Schedule:
    expr = (expr or "").strip()
    if not expr:
        raise CronError('empty cron expression: give six fields, e.g. "0/5 * * * * *" (every 5 s)')
    if expr.startswith("@every "):
        spec = expr[len("@every ") :].strip()
        parts = _DURATION.findall(spec)
        if not parts or "".join(n + u for n, u in parts) != spec:
            raise CronError(f"failed to parse duration {spec!r} (use e.g. 1h30m, 10s)")
        return Schedule(every_s=sum(float(n) * _UNITS[u] for n, u in parts))
    if expr.startswith("@"):
        if expr not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {expr}")
        expr = _DESCRIPTORS[expr]
    fields = expr.split()
    if len(fields) != 6:
        raise CronError(
            f"expected exactly 6 fields (second minute hour day-of-month month "
            f"day-of-week), found {len(fields)}: {expr!r}"
        )
    parsed = [_field(f, i) for i, f in enumerate(fields)]
    return Schedule(sets=tuple(p[0] for p in parsed), dom_star=parsed[3][1], dow_star=parsed[5][1])


def next_after(expr: str, after: datetime | None = None) -> datetime:
    return parse(expr).next(after or datetime.now())
