"""The insights chart: twitching against sleep, caffeine and water, one panel each.

Built on ``matplotlib.figure.Figure`` with the Agg canvas instead of pyplot: pyplot keeps
global figure state and is not safe to use from worker threads, while a bare Figure is an
ordinary object owned by the call that made it.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Sequence
from datetime import date, timedelta

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from bot.domain.checkin import Severity
from bot.domain.insights import DayEntry, day_month

DEFAULT_TITLE = "Twitching and daily factors"
# 8 x 10 inches at 100 dpi = 800 x 1000 px: portrait, fills a phone screen, text stays legible.
FIGURE_SIZE_INCHES = (8.0, 10.0)
FIGURE_DPI = 100

# Reference marks drawn on the panels.
SLEEP_REFERENCE_HOURS = 7.0  # adults are generally advised at least 7 hours
CAFFEINE_REFERENCE_MG = 400  # commonly cited upper daily amount for healthy adults
WATER_REFERENCE_LITRES = (1.5, 2.0)  # a usual daily range of drinking water

_TWITCHING_COLOUR = "#6a4c93"
_SLEEP_COLOUR = "#3b6ea8"
_CAFFEINE_COLOUR = "#9c6644"
_WATER_COLOUR = "#2a9d8f"
_REFERENCE_COLOUR = "#6c757d"
_TITLE_SIZE = 17
_LABEL_SIZE = 13
_TICK_SIZE = 12
_MISSING_DAY_COLOUR = "#e9ecef"
_MAX_DATE_TICKS = 7
_MIN_VISIBLE_DAYS = 7


def _period_label(start: date, end: date) -> str:
    if start == end:
        return f"{day_month(start, short=True)} {start.year}"
    return f"{day_month(start, short=True)} {start.year} – {day_month(end, short=True)} {end.year}"


def _day_label(day: date) -> str:
    """'5 Mar', spelled out here so the axis does not depend on the process locale."""
    return day_month(day, short=True)


def _series(days: list[date], by_day: dict[date, DayEntry], field: str) -> list[float]:
    """One value per calendar day; NaN where there was no check-in, which leaves a gap."""
    return [float(getattr(by_day[day], field)) if day in by_day else math.nan for day in days]


def _style_axis(axis: Axes, ylabel: str) -> None:
    axis.set_ylabel(ylabel, fontsize=_LABEL_SIZE)
    axis.tick_params(labelsize=_TICK_SIZE)
    axis.grid(axis="y", color="#dee2e6", linewidth=0.8)
    axis.set_axisbelow(True)
    for side in ("top", "right"):
        axis.spines[side].set_visible(False)


def _reference_note(axis: Axes, text: str) -> None:
    axis.text(
        0.995,
        0.97,
        text,
        transform=axis.transAxes,
        ha="right",
        va="top",
        fontsize=_TICK_SIZE - 1,
        color=_REFERENCE_COLOUR,
    )


def build_chart_figure(
    entries: Sequence[DayEntry], *, start: date, end: date, title: str = DEFAULT_TITLE
) -> Figure:
    """Draw the four panels for ``start..end`` (inclusive); entries outside are ignored."""
    if end < start:
        raise ValueError("end must not be before start")
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    by_day = {e.day: e for e in entries if start <= e.day <= end}

    figure = Figure(figsize=FIGURE_SIZE_INCHES, dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    twitching, sleep, caffeine, water = figure.subplots(4, 1, sharex=True)
    figure.suptitle(
        f"{title}\n{_period_label(start, end)}", fontsize=_TITLE_SIZE, fontweight="bold"
    )

    # The x axis counts days from ``start``; tick labels turn the counts back into dates.
    x = [float(offset) for offset in range(len(days))]
    severity = _series(days, by_day, "severity")
    twitching.plot(x, severity, color=_TWITCHING_COLOUR, marker="o", markersize=6, linewidth=2)
    twitching.set_ylim(-0.3, int(max(Severity)) + 0.3)
    twitching.set_yticks([int(level) for level in Severity])
    twitching.set_yticklabels([level.name.lower() for level in Severity])
    _style_axis(twitching, "Twitching")
    if not by_day:
        twitching.text(
            0.5,
            0.5,
            "No check-ins in this period",
            transform=twitching.transAxes,
            ha="center",
            va="center",
            fontsize=_LABEL_SIZE,
            color=_REFERENCE_COLOUR,
        )

    hours = _series(days, by_day, "sleep_hours")
    sleep.plot(x, hours, color=_SLEEP_COLOUR, marker="o", markersize=6, linewidth=2)
    sleep.axhline(SLEEP_REFERENCE_HOURS, color=_REFERENCE_COLOUR, linestyle="--", linewidth=1)
    sleep.set_ylim(0, max([10.0, *(h + 1 for h in hours if not math.isnan(h))]))
    _reference_note(sleep, f"dashed line: {SLEEP_REFERENCE_HOURS:g} h")
    _style_axis(sleep, "Sleep (h)")

    milligrams = _series(days, by_day, "caffeine_mg")
    caffeine.bar(x, milligrams, width=0.7, color=_CAFFEINE_COLOUR)
    caffeine.axhline(CAFFEINE_REFERENCE_MG, color=_REFERENCE_COLOUR, linestyle="--", linewidth=1)
    highest_mg = max([0.0, *(m for m in milligrams if not math.isnan(m))])
    caffeine.set_ylim(0, max(CAFFEINE_REFERENCE_MG * 1.3, highest_mg * 1.1))
    _reference_note(caffeine, f"dashed line: {CAFFEINE_REFERENCE_MG} mg")
    _style_axis(caffeine, "Caffeine (mg)")

    litres = _series(days, by_day, "water_litres")
    low, high = WATER_REFERENCE_LITRES
    water.axhspan(low, high, color=_WATER_COLOUR, alpha=0.15, linewidth=0)
    water.bar(x, litres, width=0.7, color=_WATER_COLOUR)
    highest_litres = max([0.0, *(v for v in litres if not math.isnan(v))])
    water.set_ylim(0, max(high * 1.5, highest_litres * 1.1))
    _reference_note(water, f"shaded: {low:g}–{high:g} l")
    _style_axis(water, "Water (l)")

    # Short periods are widened to a week so a single day's bar does not fill the panel.
    padding = max(0.6, (_MIN_VISIBLE_DAYS - len(days)) / 2)
    left, right = -padding, len(days) - 1 + padding
    for axis in (twitching, sleep, caffeine, water):
        for offset, day in enumerate(days):
            if day not in by_day:
                axis.axvspan(
                    offset - 0.5, offset + 0.5, color=_MISSING_DAY_COLOUR, linewidth=0, zorder=0
                )
        if padding > 0.6:
            axis.axvspan(left, -0.5, color=_MISSING_DAY_COLOUR, linewidth=0, zorder=0)
            axis.axvspan(len(days) - 0.5, right, color=_MISSING_DAY_COLOUR, linewidth=0, zorder=0)

    # One tick per day for short periods, about a week apart at most for long ones.
    water.xaxis.set_major_locator(MultipleLocator(max(1, math.ceil(len(days) / _MAX_DATE_TICKS))))
    water.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _pos: _day_label(start + timedelta(days=round(value))))
    )
    water.set_xlim(left, right)
    water.set_xlabel(
        "Grey bands: days without a check-in", fontsize=_TICK_SIZE - 1, color=_REFERENCE_COLOUR
    )
    return figure


def render_chart_png(
    entries: Sequence[DayEntry], *, start: date, end: date, title: str = DEFAULT_TITLE
) -> bytes:
    """The chart as PNG bytes, 800 x 1000 px."""
    figure = build_chart_figure(entries, start=start, end=end, title=title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, facecolor="white")
    return buffer.getvalue()


async def render_chart_png_async(
    entries: Sequence[DayEntry], *, start: date, end: date, title: str = DEFAULT_TITLE
) -> bytes:
    """Render in a worker thread so the event loop keeps serving other chats meanwhile."""
    return await asyncio.to_thread(
        render_chart_png, list(entries), start=start, end=end, title=title
    )
