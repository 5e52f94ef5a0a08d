"""Announcements as data: audiences, states, the text check, dedupe keys and the progress line.

Pure: no Telegram, no SQL. An admin's announcement becomes one outbox row per recipient
chat, keyed ``announce:<id>:<chat>``, so the dedupe key alone makes it impossible to write
(and so to send) one announcement twice to the same chat, and the key prefix is how its
progress is counted and how it is cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Telegram's limit on a message's text after the HTML is parsed; the raw HTML is allowed
# some room for tags, and the preview (Telegram's own parser) has the last word.
MAX_TEXT_CHARS = 4096
MAX_HTML_CHARS = 3 * MAX_TEXT_CHARS
ESCALATION_MARKS = ("🚨", "⚠️", "⚠")  # reserved: only escalation messages begin with these


class Audience(StrEnum):
    """Who an announcement goes to."""

    EVERYONE = "everyone"  # every person who agreed to the privacy notice and has not blocked us


AUDIENCE_LABELS = {Audience.EVERYONE: "Everyone active"}


class AnnouncementState(StrEnum):
    AWAITING_TEXT = "awaiting_text"  # /announce sent; the next message is the text
    READY = "ready"  # text previewed; audience and confirmation still to come
    SENDING = "sending"  # confirmed: the outbox holds one row per recipient
    DONE = "done"  # every row finished
    CANCELLED = "cancelled"  # withdrawn (before confirmation, or midway)


OPEN_STATES = (AnnouncementState.AWAITING_TEXT, AnnouncementState.READY)


def dedupe_prefix(announcement_id: int) -> str:
    """The prefix all of one announcement's outbox rows share (the trailing colon keeps #1
    from matching #12)."""
    return f"announce:{announcement_id}:"


def dedupe_key(announcement_id: int, chat_id: int) -> str:
    return f"{dedupe_prefix(announcement_id)}{chat_id}"


def report_key(announcement_id: int) -> str:
    """The final tally to the author: its own key, outside the recipients' prefix."""
    return f"announce-report:{announcement_id}"


def text_problem(text: str) -> str | None:
    """Why this text cannot be announced (None: fine so far; the preview checks the HTML)."""
    stripped = text.strip()
    if not stripped:
        return "The announcement is empty."
    if len(stripped) > MAX_HTML_CHARS:
        return f"The announcement is too long ({len(stripped):,} characters)."
    if stripped.startswith(ESCALATION_MARKS):
        return "Only red-flag escalations may begin with 🚨 or ⚠️; please start differently."
    if stripped.startswith("/"):
        return "That looks like a command, not an announcement."
    return None


@dataclass(frozen=True)
class Progress:
    """Where an announcement's rows are. ``failed`` holds everything neither sent, blocked
    nor withdrawn: rejected by Telegram, out of attempts, dropped as stale, or interrupted by
    a crash between claim and outcome (which may have arrived: at-most-once)."""

    total: int
    sent: int
    blocked: int
    failed: int
    cancelled: int
    open: int  # pending or being sent

    @property
    def finished(self) -> bool:
        return self.open == 0


def _n(value: int) -> str:
    return f"{value:,}"


def progress_line(progress: Progress) -> str:
    """ "1,240 / 5,000 sent, 3 blocked" (+ failed and withdrawn when there are any)."""
    line = f"{_n(progress.sent)} / {_n(progress.total)} sent, {_n(progress.blocked)} blocked"
    if progress.failed:
        line += f", {_n(progress.failed)} failed"
    if progress.cancelled:
        line += f", {_n(progress.cancelled)} withdrawn"
    return line


def progress_text(announcement_id: int, progress: Progress, state: AnnouncementState) -> str:
    """The admin's progress message (plain text; the caller escapes it for HTML)."""
    line = progress_line(progress)
    if not progress.finished:
        verb = "cancelling" if state == AnnouncementState.CANCELLED else "sending"
        return f"Announcement #{announcement_id}, {verb}: {line}."
    ending = "cancelled" if state == AnnouncementState.CANCELLED else "finished"
    return f"Announcement #{announcement_id} {ending}: {line}."


def final_report(announcement_id: int, progress: Progress, state: AnnouncementState) -> str:
    """The final tally sent to the author once nothing is open any more."""
    lines = [progress_text(announcement_id, progress, state)]
    if progress.blocked:
        lines.append(
            f"{_n(progress.blocked)} people had blocked the bot: they were skipped and get "
            "nothing more until they write to it again."
        )
    if progress.failed:
        lines.append(
            f"{_n(progress.failed)} could not be delivered or may not have arrived "
            "(Telegram refused them, or an instance stopped mid-send); none is sent twice."
        )
    return "\n".join(lines)
