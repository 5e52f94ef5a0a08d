"""A PDF report of a person's check-ins to take to a clinician.

Built with reportlab's platypus layout engine on A4: who and which period, a disclaimer,
summary numbers, the red flags raised and when, the patterns, the chart, and every check-in.
"""

from __future__ import annotations

import asyncio
import io
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import fmean
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)

from bot.domain.checkin import Location, Severity
from bot.domain.insights import (
    INSIGHTS_CAVEAT,
    MIN_DAYS_EACH_SIDE,
    SEVERITY_SCALE_NOTE,
    DayEntry,
    InsightsResult,
)
from bot.reports.chart import FIGURE_SIZE_INCHES, render_chart_png

REPORT_TITLE = "Twitching check-in report"
DISCLAIMER = (
    "Self-reported daily check-ins recorded with twitchcheck, an educational Telegram bot. "
    "The answers are the person's own estimates and have not been checked by anyone. "
    "This report is not a diagnosis or a medical assessment; patterns in it are associations "
    "in a small set of days, not causes."
)
TIER_LABELS = {
    "emergency": "Emergency care advised",
    "consult": "Advised to consult a professional",
}
LOCATION_LABELS = {
    Location.EYELID_FACE: "eyelid/face",
    Location.ARMS_HANDS: "arms/hands",
    Location.LEGS_FEET: "legs/feet",
    Location.TORSO: "torso",
    Location.MANY: "many places",
}

_MARGIN = 2 * cm
_CONTENT_WIDTH = A4[0] - 2 * _MARGIN
_CHART_WIDTH = 15 * cm
_TABLE_HEADER_BACKGROUND = colors.HexColor("#e9ecef")
_DISCLAIMER_BACKGROUND = colors.HexColor("#f1f3f5")
_GRID_COLOUR = colors.HexColor("#adb5bd")

# Helvetica (a standard PDF font) covers Windows-1252 only. Text outside it, such as a
# first name in Cyrillic, is set in DejaVu Sans, which ships with matplotlib.
_FALLBACK_FONT = "DejaVuSans"
_FALLBACK_FONT_PATH = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
_STANDARD_ENCODING = "cp1252"
_font_lock = threading.Lock()


@dataclass(frozen=True)
class FlagEvent:
    """A red flag escalation shown to the person: when, how urgent, and why."""

    at: datetime
    tier: str
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tier not in TIER_LABELS:
            raise ValueError(f"tier must be one of {sorted(TIER_LABELS)}, not {self.tier!r}")


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows; the caller selects the period's entries and flags.

    ``person_label`` is what identifies the person on paper (a first name at most, never an
    id). Naive datetimes are taken as UTC and shown in ``timezone``.
    """

    person_label: str
    timezone: str
    period_start: date
    period_end: date
    entries: Sequence[DayEntry]
    flags: Sequence[FlagEvent]
    insights: InsightsResult
    generated_at: datetime


# A first name on Telegram is at most 64 characters, but updates can carry anything: a longer
# label would not fit the header cell, and a page-high cell makes reportlab give up.
MAX_PERSON_LABEL_LENGTH = 64


def person_label_for_print(label: str) -> str:
    """One line of at most MAX_PERSON_LABEL_LENGTH characters: whitespace runs and control
    characters become single spaces, and a cut-off label ends in "…"."""
    printable = "".join(
        character if unicodedata.category(character)[0] != "C" else " " for character in label
    )
    line = " ".join(printable.split())
    if len(line) <= MAX_PERSON_LABEL_LENGTH:
        return line
    return line[: MAX_PERSON_LABEL_LENGTH - 1].rstrip() + "…"


def _ensure_fallback_font() -> None:
    """Register the fallback font once; registration is process-wide in reportlab."""
    with _font_lock:
        if _FALLBACK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(_FALLBACK_FONT, str(_FALLBACK_FONT_PATH)))


def _markup(text: str) -> str:
    """Escape ``text`` for a Paragraph, switching font for characters Helvetica lacks."""
    parts: list[str] = []
    run: list[str] = []
    run_is_fallback = False

    def flush() -> None:
        if run:
            chunk = escape("".join(run))
            parts.append(
                f'<font name="{_FALLBACK_FONT}">{chunk}</font>' if run_is_fallback else chunk
            )
            run.clear()

    for character in text:
        try:
            character.encode(_STANDARD_ENCODING)
            needs_fallback = False
        except UnicodeEncodeError:
            needs_fallback = True
        if needs_fallback != run_is_fallback:
            flush()
            run_is_fallback = needs_fallback
        run.append(character)
    flush()
    return "".join(parts)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


class _Styles:
    """The paragraph styles of the report, derived from reportlab's sample sheet."""

    def __init__(self) -> None:
        sample = getSampleStyleSheet()
        self.title = ParagraphStyle("ReportTitle", parent=sample["Title"], alignment=TA_LEFT)
        self.heading = ParagraphStyle(
            "ReportHeading", parent=sample["Heading2"], spaceBefore=12, spaceAfter=6
        )
        self.body = ParagraphStyle("ReportBody", parent=sample["BodyText"], spaceAfter=4)
        self.small = ParagraphStyle("ReportSmall", parent=self.body, fontSize=8.5, leading=11)
        self.cell = ParagraphStyle("ReportCell", parent=self.body, fontSize=9, leading=11)
        self.disclaimer = ParagraphStyle(
            "ReportDisclaimer",
            parent=self.body,
            backColor=_DISCLAIMER_BACKGROUND,
            borderPadding=6,
            spaceBefore=6,
            spaceAfter=12,
        )


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
    """Defers page output to the end so every footer can say "page N of M"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_states: list[dict[str, Any]] = []

    def showPage(self) -> None:  # reportlab's method name
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self.setFont("Helvetica", 8)
            self.setFillColor(colors.HexColor("#6c757d"))
            self.drawString(_MARGIN, 1.2 * cm, f"{REPORT_TITLE} - self-reported, not a diagnosis")
            self.drawRightString(A4[0] - _MARGIN, 1.2 * cm, f"Page {self._pageNumber} of {total}")
            super().showPage()
        super().save()


def _table(rows: list[list[Any]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), _TABLE_HEADER_BACKGROUND),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("GRID", (0, 0), (-1, -1), 0.4, _GRID_COLOUR),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _summary(data: ReportData, styles: _Styles) -> list[Flowable]:
    entries = data.entries
    period_days = (data.period_end - data.period_start).days + 1
    lines = [f"Check-ins: {len(entries)} of {period_days} days in the period."]
    if entries:
        by_level = Counter(entry.severity for entry in entries)
        levels = ", ".join(
            f"{level.name.lower()} {by_level[level]}"
            for level in (Severity.MILD, Severity.MODERATE, Severity.SEVERE)
            if by_level[level]
        )
        twitching_days = len(entries) - by_level[Severity.NONE]
        lines.append(
            f"Twitching noted on {twitching_days} of {len(entries)} check-in days"
            + (f" ({levels})." if levels else ".")
        )
        areas = Counter(location for entry in entries for location in entry.locations)
        if areas:
            lines.append(
                "Areas ticked: "
                + ", ".join(
                    f"{LOCATION_LABELS[area]} ({n} {'day' if n == 1 else 'days'})"
                    for area, n in areas.most_common()
                )
                + "."
            )
        lines.append(
            "Averages per check-in day: "
            f"sleep {_number(fmean(e.sleep_hours for e in entries))} h, "
            f"caffeine {round(fmean(e.caffeine_mg for e in entries))} mg, "
            f"water {_number(fmean(e.water_litres for e in entries))} l."
        )
    tiers = Counter(flag.tier for flag in data.flags)
    if data.flags:
        lines.append(
            f"Red flags raised: {len(data.flags)} "
            f"({tiers['emergency']} emergency, {tiers['consult']} consult)."
        )
    else:
        lines.append("Red flags raised: none.")
    return [Paragraph("Summary", styles.heading)] + [
        Paragraph(_markup(line), styles.body, bulletText="•") for line in lines
    ]


def _flags(data: ReportData, zone: ZoneInfo, styles: _Styles) -> list[Flowable]:
    story: list[Flowable] = [Paragraph("Red flags raised", styles.heading)]
    if not data.flags:
        story.append(Paragraph("No red flags were raised in this period.", styles.body))
        return story
    rows: list[list[Any]] = [["When (local time)", "Level", "What was reported"]]
    for flag in sorted(data.flags, key=lambda f: _local(f.at, zone)):
        rows.append(
            [
                _local(flag.at, zone).strftime("%Y-%m-%d %H:%M"),
                Paragraph(TIER_LABELS[flag.tier], styles.cell),
                Paragraph(_markup("; ".join(flag.reasons) or "-"), styles.cell),
            ]
        )
    story.append(_table(rows, [3.2 * cm, 4.3 * cm, _CONTENT_WIDTH - 7.5 * cm]))
    return story


def _patterns(insights: InsightsResult, styles: _Styles) -> list[Flowable]:
    story: list[Flowable] = [Paragraph("Patterns", styles.heading)]
    if insights.patterns:
        story.extend(Paragraph(_markup(p.sentence), styles.body) for p in insights.patterns)
        story.append(Paragraph(_markup(INSIGHTS_CAVEAT), styles.small))
    else:
        story.append(
            Paragraph(
                _markup(
                    "Not enough check-ins to compare yet: each comparison needs at least "
                    f"{MIN_DAYS_EACH_SIDE} days with a factor and {MIN_DAYS_EACH_SIDE} without."
                ),
                styles.body,
            )
        )
    story.extend(Paragraph(_markup(sentence), styles.small) for sentence in insights.not_enough)
    story.append(
        Paragraph(_markup(f"Twitching averages use a {SEVERITY_SCALE_NOTE}."), styles.small)
    )
    return story


def _chart(data: ReportData, styles: _Styles) -> list[Flowable]:
    png = render_chart_png(data.entries, start=data.period_start, end=data.period_end)
    width_in, height_in = FIGURE_SIZE_INCHES
    image = Image(io.BytesIO(png), width=_CHART_WIDTH, height=_CHART_WIDTH * height_in / width_in)
    return [PageBreak(), Paragraph("Chart", styles.heading), image]


def _checkins(data: ReportData, styles: _Styles) -> list[Flowable]:
    story: list[Flowable] = [Paragraph("Every check-in", styles.heading)]
    if not data.entries:
        story.append(Paragraph("No check-ins in this period.", styles.body))
        return story
    rows: list[list[Any]] = [["Date", "Twitching", "Areas", "Sleep", "Caffeine", "Water"]]
    for entry in sorted(data.entries, key=lambda e: e.day):
        areas = ", ".join(
            LOCATION_LABELS[area] for area in sorted(entry.locations, key=list(Location).index)
        )
        rows.append(
            [
                entry.day.isoformat(),
                entry.severity.name.lower(),
                Paragraph(areas or "-", styles.cell),
                f"{entry.sleep_hours:.1f} h",
                f"{entry.caffeine_mg} mg",
                f"{entry.water_litres:.1f} l",
            ]
        )
    widths = [2.4 * cm, 2.3 * cm, 5.0 * cm, 2.0 * cm, 2.3 * cm, 2.0 * cm]
    story.append(_table(rows, widths))
    return story


def render_report_pdf(data: ReportData, *, compress: bool = True) -> bytes:
    """The report as PDF bytes. ``compress=False`` leaves page text readable in the raw file."""
    if data.period_end < data.period_start:
        raise ValueError("period_end must not be before period_start")
    _ensure_fallback_font()
    zone = ZoneInfo(data.timezone)
    styles = _Styles()
    generated = _local(data.generated_at, zone)
    header_rows = [
        ["Person", person_label_for_print(data.person_label)],
        ["Period", f"{data.period_start.isoformat()} to {data.period_end.isoformat()}"],
        ["Timezone", data.timezone],
        ["Generated", generated.strftime("%Y-%m-%d %H:%M")],
    ]
    header = Table(
        [
            [Paragraph(f"<b>{label}</b>", styles.body), Paragraph(_markup(value), styles.body)]
            for label, value in header_rows
        ],
        colWidths=[3 * cm, _CONTENT_WIDTH - 3 * cm],
        hAlign="LEFT",
    )
    story: list[Flowable] = [
        Paragraph(REPORT_TITLE, styles.title),
        header,
        Paragraph(_markup(DISCLAIMER), styles.disclaimer),
        *_summary(data, styles),
        KeepTogether(_flags(data, zone, styles)),
        *_patterns(data.insights, styles),
        *_chart(data, styles),
        PageBreak(),
        *_checkins(data, styles),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        title=REPORT_TITLE,
        author="twitchcheck",
        pageCompression=1 if compress else 0,
    )
    document.build(story, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()


async def render_report_pdf_async(data: ReportData) -> bytes:
    """Render in a worker thread so the event loop keeps serving other chats meanwhile."""
    return await asyncio.to_thread(render_report_pdf, data)
