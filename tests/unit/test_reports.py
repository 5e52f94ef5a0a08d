"""The chart PNG and the clinician PDF: produced, well-formed, and carrying the right content."""

from __future__ import annotations

import io
import re
import threading
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from bot.domain.checkin import Location, Severity
from bot.domain.insights import DayEntry, InsightsResult, find_patterns
from bot.reports import chart, pdf
from bot.reports.chart import render_chart_png, render_chart_png_async
from bot.reports.pdf import FlagEvent, ReportData, render_report_pdf, render_report_pdf_async

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = date(2025, 3, 1)
END = date(2025, 3, 28)
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def history(skip: frozenset[int] = frozenset({5, 6, 13})) -> list[DayEntry]:
    return [
        DayEntry(
            day=START + timedelta(days=i),
            severity=Severity(i % 4),
            sleep_hours=5.5 + (i % 5) * 0.5,
            caffeine_mg=(i % 4) * 110,
            water_litres=1.0 + (i % 3) * 0.5,
            locations=frozenset({Location.ARMS_HANDS}) if i % 2 else frozenset(),
        )
        for i in range(28)
        if i not in skip
    ]


def decoded_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return image.size


def report_data(**overrides: object) -> ReportData:
    entries = history()
    values: dict[str, object] = {
        "person_label": "Alex",
        "timezone": "Europe/Berlin",
        "period_start": START,
        "period_end": END,
        "entries": entries,
        "flags": [
            FlagEvent(
                at=datetime(2025, 3, 10, 7, 30, tzinfo=UTC),
                tier="consult",
                reasons=("weakness in the left hand",),
            ),
            FlagEvent(at=datetime(2025, 3, 3, 21, 5), tier="emergency", reasons=("choking",)),
        ],
        "insights": find_patterns(entries),
        "generated_at": datetime(2025, 3, 29, 9, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return ReportData(**values)  # type: ignore[arg-type]


def assert_well_formed_pdf(document: bytes) -> int:
    assert document.startswith(b"%PDF-")
    assert document.rstrip().endswith(b"%%EOF")
    pages = len(PAGE_OBJECT.findall(document))
    assert pages >= 1
    return pages


@pytest.mark.parametrize(
    ("entries", "start", "end"),
    [
        (history(), START, END),  # with gaps
        (history()[:1], START, START),  # a single day
        ([], START, END),  # nothing checked in
        (history(), START + timedelta(days=10), START + timedelta(days=12)),  # subset
    ],
    ids=["gaps", "single-day", "empty", "entries-outside-period"],
)
def test_chart_is_a_phone_sized_png(entries, start, end) -> None:
    png = render_chart_png(entries, start=start, end=end)
    assert decoded_size(png) == (800, 1000)


def test_chart_shows_four_panels_with_named_severity_levels() -> None:
    figure = chart.build_chart_figure(history(), start=START, end=END)
    twitching, sleep, caffeine, water = figure.axes
    assert [label.get_text() for label in twitching.get_yticklabels()] == [
        "none",
        "mild",
        "moderate",
        "severe",
    ]
    assert [a.get_ylabel() for a in (sleep, caffeine, water)] == [
        "Sleep (h)",
        "Caffeine (mg)",
        "Water (l)",
    ]
    # One value per calendar day, NaN (a gap) for the three days without a check-in.
    severity_values = np.asarray(twitching.get_lines()[0].get_ydata(), dtype=float)
    assert severity_values.shape == (28,)
    assert int(np.isnan(severity_values).sum()) == 3


def test_chart_rejects_a_reversed_period() -> None:
    with pytest.raises(ValueError, match="end"):
        render_chart_png([], start=END, end=START)


async def test_chart_async_renders_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    original = chart.render_chart_png

    def recording(*args, **kwargs):
        threads.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(chart, "render_chart_png", recording)
    png = await render_chart_png_async(history(), start=START, end=END)

    assert decoded_size(png) == (800, 1000)
    assert threads
    assert threads[0] != threading.get_ident()


def test_report_is_a_pdf_with_the_expected_content() -> None:
    document = render_report_pdf(report_data(), compress=False)

    assert assert_well_formed_pdf(document) == 3  # summary, chart, check-in table
    for text in (
        b"Twitching check-in report",
        b"Alex",
        b"Europe/Berlin",
        b"2025-03-01 to 2025-03-28",
        b"not a diagnosis",
        b"Check-ins: 25 of 28 days in the period.",
        b"Emergency care advised",
        b"weakness in the left hand",
        b"2025-03-10 08:30",  # 07:30 UTC shown in Berlin time
        b"2025-03-03 22:05",  # a naive time is taken as UTC
        b"2025-03-28",
        b"arms/hands",
        b"Page 1 of 3",
        b"Page 3 of 3",
    ):
        assert text in document, text
    assert b"/Subtype /Image" in document
    for pattern in report_data().insights.patterns:
        first_words = pattern.sentence.split(",")[0].split(" (")[0]
        assert first_words.encode() in document


def test_report_lists_flags_in_time_order() -> None:
    document = render_report_pdf(report_data(), compress=False)
    assert document.index(b"choking") < document.index(b"weakness in the left hand")


def test_report_default_output_is_compressed_and_well_formed() -> None:
    compressed = render_report_pdf(report_data())
    assert assert_well_formed_pdf(compressed) == 3
    assert len(compressed) < len(render_report_pdf(report_data(), compress=False))


def test_report_with_no_data_still_renders() -> None:
    empty = report_data(
        entries=[], flags=[], insights=InsightsResult(patterns=(), checkins_needed=6)
    )
    document = render_report_pdf(empty, compress=False)

    assert assert_well_formed_pdf(document) >= 1
    assert b"No red flags were raised in this period." in document
    assert b"No check-ins in this period." in document
    assert b"Not enough check-ins to compare yet" in document


def test_report_sets_non_latin_names_in_an_embedded_font() -> None:
    document = render_report_pdf(report_data(person_label="Алексей"), compress=False)
    assert_well_formed_pdf(document)
    assert b"DejaVuSans" in document


def test_a_long_history_spans_several_pages() -> None:
    entries = [
        DayEntry(START + timedelta(days=i), Severity(i % 4), 7.0, 100, 2.0) for i in range(120)
    ]
    data = report_data(
        entries=entries,
        period_end=START + timedelta(days=119),
        insights=find_patterns(entries),
    )
    document = render_report_pdf(data, compress=False)
    pages = assert_well_formed_pdf(document)
    assert pages >= 5
    assert f"Page {pages} of {pages}".encode() in document
    # The table header repeats on every page of the check-in table.
    assert document.count(b"(Caffeine)") >= 2


def test_unknown_flag_tier_is_rejected() -> None:
    with pytest.raises(ValueError, match="tier"):
        FlagEvent(at=datetime(2025, 3, 1, tzinfo=UTC), tier="urgent", reasons=())


def test_report_rejects_a_reversed_period() -> None:
    with pytest.raises(ValueError, match="period_end"):
        render_report_pdf(report_data(period_start=END, period_end=START))


async def test_report_async_renders_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    original = pdf.render_report_pdf

    def recording(data):
        threads.append(threading.get_ident())
        return original(data)

    monkeypatch.setattr(pdf, "render_report_pdf", recording)
    document = await render_report_pdf_async(report_data())

    assert assert_well_formed_pdf(document) == 3
    assert threads
    assert threads[0] != threading.get_ident()


def test_a_ten_thousand_character_name_is_cut_to_one_line() -> None:
    document = render_report_pdf(report_data(person_label="Alexandra " * 1000), compress=False)
    assert assert_well_formed_pdf(document) == 3
    assert b"Alexandra Alexandra" in document


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        ("Alex", "Alex"),
        ("  Alex \n\t Kim ", "Alex Kim"),
        ("Al\x00ex\u202e", "Al ex"),
        ("x" * 64, "x" * 64),
        ("x" * 65, "x" * 63 + "…"),
        ("<b>Bob & Co</b>", "<b>Bob & Co</b>"),  # escaped later, as every Paragraph text is
    ],
)
def test_person_label_for_print(given: str, printed: str) -> None:
    assert pdf.person_label_for_print(given) == printed


def test_markup_in_a_name_is_printed_as_text() -> None:
    document = render_report_pdf(report_data(person_label="<b>Bob & <i>Co"), compress=False)
    assert assert_well_formed_pdf(document) == 3
