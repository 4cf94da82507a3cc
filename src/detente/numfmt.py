"""Numbers as a person reads them: digits that follow the scale (issue #12 point 4).

One rule, used by the CLI tables, the report (tables and charts), the analyses' sentences and
the web app (which receives ``decimals`` per issue in the JSON): a value on a scale of width
``w`` shows ``3 - ceil(log10(w))`` decimals (never fewer than 0), so its last digit is between
0.1 % and 1 % of the width. A 0-1 scale gets 3 decimals (0.478), 0-10 and 4-10 get 2 (4.50,
7.83), 0-100 gets 1 (65.0), 0-1000 none.

:func:`meaning` names where a value lies among an issue's labelled points: the label itself when
the value is within 1 % of the width of a labelled point, else "between A and B".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

Scale = tuple[float, float] | list[float] | float

# the share of the scale's width within which a value "is" a labelled point
AT_LABEL = 0.01


def _width(scale: Scale) -> float:
    if isinstance(scale, (int, float)):
        return float(scale)
    lo, hi = scale
    return float(hi) - float(lo)


def decimals(scale: Scale) -> int:
    """Decimals for values on ``scale`` (a ``(low, high)`` pair or its width)."""
    w = _width(scale)
    if not math.isfinite(w) or w <= 0:
        return 1
    return max(0, 3 - math.ceil(round(math.log10(w), 9)))


def fixed(x: Any, digits: int = 1, *, sign: bool = False) -> str:
    """``x`` with ``digits`` decimals; ``-`` for None/NaN/inf; never ``-0.0``; ``+`` if ``sign``."""
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return "-"
    text = f"{x:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    if sign and not text.startswith("-"):
        text = "+" + text
    return text


def fmt(x: Any, scale: Scale, *, sign: bool = False) -> str:
    """``x`` with the scale's decimals (:func:`decimals`); see :func:`fixed`."""
    return fixed(x, decimals(scale), sign=sign)


def fmt_range(lo: Any, hi: Any, scale: Scale, *, sep: str = "-") -> str:
    """An interval ``lo-hi`` with the scale's decimals (`` to `` when a bound is negative)."""
    a, b = fmt(lo, scale), fmt(hi, scale)
    if a.startswith("-") and a != "-" or b.startswith("-") and b != "-":
        sep = " to "
    return f"{a}{sep}{b}"


def fmt_percent(p: Any) -> str:
    """A probability or share as a whole percentage (``<1%`` and ``>99%`` near the ends, never a
    rounded 0 % or 100 % for something that happened or failed in some draws)."""
    if p is None or not math.isfinite(float(p)):
        return "-"
    v = 100 * float(p)
    if 0 < v < 0.5:
        return "<1%"
    if 99.5 <= v < 100:
        return ">99%"
    return f"{v:.0f}%"


def meaning(x: Any, labels: Mapping[float, str], scale: Scale) -> str:
    """What ``x`` means among the labelled points: a label, or "between A and B" ("" if none)."""
    if x is None or not labels or not math.isfinite(float(x)):
        return ""
    x = float(x)
    pts = sorted(labels)
    tol = AT_LABEL * _width(scale)
    near = min(pts, key=lambda p: abs(p - x))
    if abs(near - x) <= tol:
        return labels[near]
    below = [p for p in pts if p < x]
    above = [p for p in pts if p > x]
    if below and above:
        return f"between {labels[below[-1]]} and {labels[above[0]]}"
    if below:
        return f"above {labels[below[-1]]}"
    return f"below {labels[above[0]]}"
