"""Announcements as pure data: the text check, keys and the progress line."""

from __future__ import annotations

import pytest

from bot.domain.announcements import (
    AnnouncementState,
    Progress,
    dedupe_key,
    dedupe_prefix,
    final_report,
    progress_line,
    progress_text,
    report_key,
    text_problem,
)


def test_the_progress_line_reads_like_the_issue_says() -> None:
    running = Progress(total=5000, sent=1240, blocked=3, failed=0, cancelled=0, open=3757)
    assert progress_line(running) == "1,240 / 5,000 sent, 3 blocked"
    assert progress_text(7, running, AnnouncementState.SENDING) == (
        "Announcement #7, sending: 1,240 / 5,000 sent, 3 blocked."
    )
    ended = Progress(total=5000, sent=1300, blocked=3, failed=2, cancelled=3695, open=0)
    assert progress_text(7, ended, AnnouncementState.CANCELLED) == (
        "Announcement #7 cancelled: 1,300 / 5,000 sent, 3 blocked, 2 failed, 3,695 withdrawn."
    )
    report = final_report(7, ended, AnnouncementState.CANCELLED).splitlines()
    assert report[0] == progress_text(7, ended, AnnouncementState.CANCELLED)
    assert report[1].startswith("3 people had blocked the bot")
    assert report[2].startswith("2 could not be delivered or may not have arrived")
    quiet = Progress(total=2, sent=2, blocked=0, failed=0, cancelled=0, open=0)
    assert final_report(1, quiet, AnnouncementState.SENDING) == (
        "Announcement #1 finished: 2 / 2 sent, 0 blocked."
    )


def test_keys_never_let_one_announcement_match_another() -> None:
    assert dedupe_key(1, 4242) == "announce:1:4242"
    assert dedupe_key(12, 4242).startswith(dedupe_prefix(12))
    assert not dedupe_key(12, 4242).startswith(dedupe_prefix(1))
    assert not report_key(1).startswith(dedupe_prefix(1))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("🚨 Please read", "escalations"),
        ("⚠️ Update", "escalations"),
        ("/help", "command"),
        ("x" * 12_289, "too long"),
    ],
)
def test_texts_that_cannot_be_announced(text: str, problem: str) -> None:
    found = text_problem(text)
    assert found is not None and problem in found


def test_ordinary_html_passes_to_the_preview() -> None:
    assert text_problem("<b>New</b>: topics &amp; sources, see /learn") is None
