"""/history, /insights, /report, /export, /delete, /summary and the weekly summary job.

Thin adapters: unpack the update, call RecordsService, render. Charts and PDFs are rendered
in worker threads (the *_async renderers), so other chats keep being served meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping, Sequence
from datetime import date
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    filters,
)

from bot.context import BotApplication, BotContext, Deps
from bot.domain.checkin import Location, Severity
from bot.domain.insights import MONTH_NAMES, DayEntry, day_month, format_insights
from bot.domain.outbox import Attachment, OutboxKind, OutgoingMessage
from bot.domain.parsing import parse_whole_number
from bot.reports.chart import render_chart_png_async
from bot.reports.pdf import render_report_pdf_async
from bot.services import records as svc
from bot.texts import Texts
from handlers.outbox import Photo
from handlers.render import SEVERITY_WORDS, esc, format_number
from handlers.render import send_html as _send

log = logging.getLogger(__name__)

CALLBACK_PATTERN = r"^(hist|del|sum)\|"
HISTORY_PREFIX = "hist"
DELETE_PREFIX = "del"
SUMMARY_PREFIX = "sum"
DELETE_YES = "yes"
DELETE_NO = "no"
SUMMARY_OFF = "off"
MAX_CAPTION_LENGTH = 1024
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FLAG_MARKERS = {svc.CONSULT_TIER: "⚠️", svc.EMERGENCY_TIER: "🚨"}
REPORT_FILENAME = "twitchcheck-report-{day}.pdf"
CHART_FILENAME = "twitchcheck-chart.png"
EXPORT_JSON_FILENAME = "twitchcheck-export.json"
EXPORT_CSV_FILENAME = "twitchcheck-{table}.csv"
WEEKLY_SUMMARY_CHART_TITLE = "Your week"


# --- rendering --------------------------------------------------------------------------


def short_date(day: date) -> str:
    """ "22 Nov"."""
    return day_month(day, short=True)


def period_label(start: date, end: date) -> str:
    """ "9–22 Nov 2026", or "26 Oct – 22 Nov 2026" across months and years."""
    if start.year != end.year:
        return f"{short_date(start)} {start.year} – {short_date(end)} {end.year}"
    if start.month != end.month:
        return f"{short_date(start)} – {short_date(end)} {end.year}"
    return f"{start.day}–{short_date(end)} {end.year}"


def flag_marker(tiers: tuple[int, ...]) -> str:
    """The most urgent tier raised that day as a marker, or nothing."""
    if not tiers:
        return ""
    worst = max(tiers)
    return FLAG_MARKERS[svc.EMERGENCY_TIER if worst >= svc.EMERGENCY_TIER else svc.CONSULT_TIER]


def _table_line(day: str, twitching: str, sleep: str, caffeine: str, water: str) -> str:
    return f"{day:<6} {twitching:<9} {sleep:>5} {caffeine:>8} {water:>5}"


HISTORY_HEADER = _table_line("Date", "Twitching", "Sleep", "Caffeine", "Water")


def history_row(day: svc.HistoryDay) -> str:
    """One fixed-width line of the history table (markers last, where width matters least)."""
    entry = day.entry
    if entry is None:
        line = _table_line(short_date(day.day), "—", "", "", "")
    else:
        line = _table_line(
            short_date(day.day),
            SEVERITY_WORDS[entry.severity],
            f"{format_number(entry.sleep_hours)}h",
            f"{entry.caffeine_mg}mg",
            f"{format_number(entry.water_litres)}l",
        )
    return f"{line} {flag_marker(day.tiers)}".rstrip()


def history_text(texts: Texts, page: svc.HistoryPage) -> str:
    """Title line, the table in <pre> (newest day first), this month's count and notes."""
    rows = [HISTORY_HEADER]
    rows.extend(history_row(day) for day in reversed(page.days))
    parts = [
        f"<b>{esc(texts('records_history_title', period=period_label(page.start, page.end)))}</b>",
        f"<pre>{esc(chr(10).join(rows))}</pre>",
    ]
    notes = [
        texts(
            "records_history_month",
            month=MONTH_NAMES[page.today.month - 1],
            count=page.checkins_this_month,
        )
    ]
    if any(day.entry is None for day in page.days):
        notes.append(texts("records_history_missing_note"))
    if any(day.tiers for day in page.days):
        notes.append(texts("records_history_legend"))
    parts.append(esc("\n".join(notes)))
    return "\n".join(parts)


def history_keyboard(texts: Texts, page: svc.HistoryPage) -> InlineKeyboardMarkup | None:
    """« Earlier when there is older data, Later » when not on the newest page."""
    buttons: list[InlineKeyboardButton] = []
    if page.has_older:
        buttons.append(
            InlineKeyboardButton(
                texts("records_history_earlier"), callback_data=f"{HISTORY_PREFIX}|{page.page + 1}"
            )
        )
    if page.has_newer:
        buttons.append(
            InlineKeyboardButton(
                texts("records_history_later"), callback_data=f"{HISTORY_PREFIX}|{page.page - 1}"
            )
        )
    return InlineKeyboardMarkup([buttons]) if buttons else None


def delete_keyboard(texts: Texts, token: str) -> InlineKeyboardMarkup:
    """The explicit confirmation; both buttons carry the open confirmation's token."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts("records_delete_yes"),
                    callback_data=f"{DELETE_PREFIX}|{DELETE_YES}|{token}",
                ),
                InlineKeyboardButton(
                    texts("records_delete_no"),
                    callback_data=f"{DELETE_PREFIX}|{DELETE_NO}|{token}",
                ),
            ]
        ]
    )


def summary_keyboard(texts: Texts, current: int | None) -> InlineKeyboardMarkup:
    """Seven weekday buttons (the current one ticked) and Off."""

    def label(index: int) -> str:
        short = WEEKDAYS[index][:3]
        return f"✓ {short}" if index == current else short

    days = [
        InlineKeyboardButton(label(index), callback_data=f"{SUMMARY_PREFIX}|{index}")
        for index in range(len(WEEKDAYS))
    ]
    off = InlineKeyboardButton(
        texts("records_summary_off_button"), callback_data=f"{SUMMARY_PREFIX}|{SUMMARY_OFF}"
    )
    return InlineKeyboardMarkup([days[:4], [*days[4:], off]])


def summary_menu_text(texts: Texts, weekday: int | None) -> str:
    if weekday is None:
        return esc(texts("records_summary_menu_off", hour=svc.SUMMARY_LOCAL_HOUR))
    return esc(
        texts("records_summary_menu_on", weekday=WEEKDAYS[weekday], hour=svc.SUMMARY_LOCAL_HOUR)
    )


def parse_report_weeks(args: list[str] | None) -> int | None:
    """ "/report" → 4, "/report 8" → 8; None for anything else (out of range included)."""
    if not args:
        return svc.DEFAULT_REPORT_WEEKS
    weeks = parse_whole_number(args[0]) if len(args) == 1 else None
    return weeks if weeks is not None and 1 <= weeks <= svc.MAX_REPORT_WEEKS else None


# --- helpers ----------------------------------------------------------------------------


def _user_id(update: Update) -> int:
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    return user.id


async def _point_to_start(update: Update, context: BotContext) -> None:
    await _send(update, esc(context.deps.texts("records_needs_onboarding")))


async def _quietly(action: Awaitable[Any]) -> None:
    """Edits of old messages may fail harmlessly (unchanged, too old, deleted)."""
    try:
        await action
    except BadRequest as error:
        log.debug("ignored edit failure: %s", error.message)


async def _action(update: Update, action: str) -> None:
    """Show "sending a photo/document…" while a render runs; a failure here changes nothing."""
    chat = update.effective_chat
    if chat is not None:
        try:
            await chat.send_action(action)
        except TelegramError as error:
            log.debug("chat action failed: %s", error.message)


# --- commands ---------------------------------------------------------------------------


async def history(update: Update, context: BotContext) -> None:
    """/history: the last 14 days as a table, with buttons to page back."""
    deps = context.deps
    page = await deps.records.history(_user_id(update), 0)
    if isinstance(page, svc.NeedsOnboarding):
        await _point_to_start(update, context)
        return
    if not page.has_any:
        await _send(update, esc(deps.texts("records_history_empty")))
        return
    await _send(update, history_text(deps.texts, page), history_keyboard(deps.texts, page))


async def insights(update: Update, context: BotContext) -> None:
    """/insights: the four-week chart, then the patterns (or how many more days are needed)."""
    deps = context.deps
    data = await deps.records.insights(_user_id(update))
    if isinstance(data, svc.NeedsOnboarding):
        await _point_to_start(update, context)
        return
    chat = update.effective_chat
    if chat is None:
        return
    paragraphs: list[str] = []
    if data.entries:
        await _action(update, ChatAction.UPLOAD_PHOTO)
        png = await render_chart_png_async(data.entries, start=data.start, end=data.end)
        caption = deps.texts("records_insights_caption", period=period_label(data.start, data.end))
        await chat.send_photo(
            photo=png, filename=CHART_FILENAME, caption=esc(caption), parse_mode=ParseMode.HTML
        )
    else:
        paragraphs.append(deps.texts("records_insights_no_entries"))
    paragraphs.append(format_insights(data.result))
    await _send(update, esc("\n\n".join(paragraphs)))


async def report(update: Update, context: BotContext) -> None:
    """/report [weeks]: a PDF of the period's check-ins, flags and patterns for a clinician."""
    deps = context.deps
    weeks = parse_report_weeks(context.args)
    if weeks is None:
        await _send(update, esc(deps.texts("records_report_usage", max_weeks=svc.MAX_REPORT_WEEKS)))
        return
    user = update.effective_user
    person_label = user.first_name if user is not None else ""
    data = await deps.records.report(_user_id(update), weeks=weeks, person_label=person_label)
    if isinstance(data, svc.NeedsOnboarding):
        await _point_to_start(update, context)
        return
    chat = update.effective_chat
    if chat is None:
        return
    await _action(update, ChatAction.UPLOAD_DOCUMENT)
    pdf = await render_report_pdf_async(data)
    caption = deps.texts(
        "records_report_caption", period=period_label(data.period_start, data.period_end)
    )
    await chat.send_document(
        document=pdf,
        filename=REPORT_FILENAME.format(day=data.period_end.isoformat()),
        caption=esc(caption),
        parse_mode=ParseMode.HTML,
    )


async def export(update: Update, context: BotContext) -> None:
    """/export: everything stored about the person as a JSON document and CSV documents."""
    deps = context.deps
    files = await deps.records.export(_user_id(update))
    if isinstance(files, svc.NeedsOnboarding):
        await _point_to_start(update, context)
        return
    chat = update.effective_chat
    if chat is None:
        return
    await _send(update, esc(deps.texts("records_export_intro")))
    await chat.send_document(
        document=files.json_document,
        filename=EXPORT_JSON_FILENAME,
        caption=esc(deps.texts("records_export_json_caption")),
        parse_mode=ParseMode.HTML,
    )
    for table, data in files.csv_documents.items():
        await chat.send_document(
            document=data,
            filename=EXPORT_CSV_FILENAME.format(table=table.replace("_", "-")),
            caption=esc(deps.texts("records_export_csv_caption", table=table)),
            parse_mode=ParseMode.HTML,
        )


async def delete(update: Update, context: BotContext) -> None:
    """/delete: open an explicit confirmation (stored on the server) before erasing anything."""
    deps = context.deps
    request = await deps.records.request_erasure(_user_id(update), update.update_id)
    if isinstance(request, svc.Duplicate):
        return
    if isinstance(request, svc.NothingToErase):
        await _send(update, esc(deps.texts("records_delete_nothing")))
        return
    await _send(
        update,
        esc(deps.texts("records_delete_confirm")),
        delete_keyboard(deps.texts, request.token),
    )


async def summary(update: Update, context: BotContext) -> None:
    """/summary: pick the weekday of the weekly summary, or turn it off."""
    deps = context.deps
    setting = await deps.records.summary_setting(_user_id(update))
    if isinstance(setting, svc.NeedsOnboarding):
        await _point_to_start(update, context)
        return
    await _send(
        update,
        summary_menu_text(deps.texts, setting.weekday),
        summary_keyboard(deps.texts, setting.weekday),
    )


# --- buttons ----------------------------------------------------------------------------


async def button(update: Update, context: BotContext) -> None:
    """hist|, del| and sum| buttons; stops the update here so the check-in handler skips it."""
    query = update.callback_query
    if query is not None:
        try:
            await _press(update, context)
        except Exception:
            log.exception("records button in update %s failed", update.update_id)
            await _quietly(query.answer(context.deps.texts("error")))
    raise ApplicationHandlerStop


async def _press(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    deps = context.deps
    data = query.data if isinstance(query.data, str) else ""
    message = query.message if isinstance(query.message, Message) else None
    prefix, _, rest = data.partition("|")
    if prefix == HISTORY_PREFIX:
        await _press_history(update, context, rest, message)
    elif prefix == DELETE_PREFIX:
        await _press_delete(update, context, rest, message)
    elif prefix == SUMMARY_PREFIX:
        await _press_summary(update, context, rest, message)
    else:
        await query.answer(deps.texts("records_forged_button"))


async def _press_history(
    update: Update, context: BotContext, rest: str, message: Message | None
) -> None:
    query = update.callback_query
    assert query is not None
    deps = context.deps
    number = parse_whole_number(rest)
    if number is None or number > svc.MAX_HISTORY_PAGE:
        await query.answer(deps.texts("records_forged_button"))
        return
    page = await deps.records.history(_user_id(update), number)
    if isinstance(page, svc.NeedsOnboarding):
        await query.answer(deps.texts("records_needs_onboarding"))
        return
    await query.answer()
    if message is not None:
        await _quietly(
            message.edit_text(
                history_text(deps.texts, page),
                parse_mode=ParseMode.HTML,
                reply_markup=history_keyboard(deps.texts, page),
            )
        )


async def _press_delete(
    update: Update, context: BotContext, rest: str, message: Message | None
) -> None:
    query = update.callback_query
    assert query is not None
    deps = context.deps
    choice, _, token = rest.partition("|")
    if choice == DELETE_NO:
        # Old prompts' "Keep my data" carried no token; keeping changes nothing either way.
        if token:
            await deps.records.cancel_erasure(_user_id(update), token)
        text = deps.texts("records_delete_kept")
    elif choice == DELETE_YES and token:
        outcome = await deps.records.confirm_erasure(_user_id(update), update.update_id, token)
        if isinstance(outcome, svc.Duplicate):
            await _quietly(query.answer())
            return
        if isinstance(outcome, svc.ErasureNotOpen):
            await query.answer(deps.texts("records_delete_not_open"), show_alert=True)
            return
        if isinstance(outcome, svc.ErasureExpired):
            text = deps.texts("records_delete_expired")
        else:
            log.info("erased %d rows on request", outcome.total)
            key = "records_delete_done" if outcome.total else "records_delete_nothing"
            text = deps.texts(key)
    else:
        await query.answer(deps.texts("records_forged_button"))
        return
    await query.answer()
    if message is not None:
        await _quietly(message.edit_text(esc(text), parse_mode=ParseMode.HTML, reply_markup=None))
    else:
        await _send(update, esc(text))


async def _press_summary(
    update: Update, context: BotContext, rest: str, message: Message | None
) -> None:
    query = update.callback_query
    assert query is not None
    deps = context.deps
    weekday = parse_whole_number(rest)
    if rest == SUMMARY_OFF:
        weekday = None
    elif weekday is None or weekday >= len(WEEKDAYS):
        await query.answer(deps.texts("records_forged_button"))
        return
    result = await deps.records.set_summary_day(_user_id(update), update.update_id, weekday)
    if isinstance(result, svc.Duplicate):
        await _quietly(query.answer())
        return
    if isinstance(result, svc.NeedsOnboarding):
        await query.answer(deps.texts("records_needs_onboarding"))
        return
    if result.weekday is None:
        text = deps.texts("records_summary_off_done")
    else:
        text = deps.texts("records_summary_on_done", weekday=WEEKDAYS[result.weekday])
    await query.answer()
    if message is not None:
        await _quietly(message.edit_text(esc(text), parse_mode=ParseMode.HTML, reply_markup=None))
    else:
        await _send(update, esc(text))


# --- weekly summary job -----------------------------------------------------------------


WEEKLY_CHART = "weekly_chart"


def entries_to_data(entries: Sequence[DayEntry]) -> list[dict[str, Any]]:
    """The week's entries as JSON-able data for the outbox row (rendered at send time)."""
    return [
        {
            "day": entry.day.isoformat(),
            "severity": int(entry.severity),
            "sleep_hours": entry.sleep_hours,
            "caffeine_mg": entry.caffeine_mg,
            "water_litres": entry.water_litres,
            "locations": sorted(str(location) for location in entry.locations),
        }
        for entry in entries
    ]


def entries_from_data(data: Sequence[Mapping[str, Any]]) -> tuple[DayEntry, ...]:
    """Inverse of `entries_to_data`."""
    return tuple(
        DayEntry(
            day=date.fromisoformat(item["day"]),
            severity=Severity(int(item["severity"])),
            sleep_hours=float(item["sleep_hours"]),
            caffeine_mg=int(item["caffeine_mg"]),
            water_litres=float(item["water_litres"]),
            locations=frozenset(Location(value) for value in item["locations"]),
        )
        for item in data
    )


def compose_summary(texts: Texts, due: svc.DueSummary) -> OutgoingMessage:
    """The weekly summary as an outbox message: the text, with the week's chart (rendered
    when it is sent) when there are entries."""
    attachment = None
    if due.entries:
        attachment = Attachment(
            type=WEEKLY_CHART,
            data={
                "start": due.start.isoformat(),
                "end": due.end.isoformat(),
                "entries": entries_to_data(due.entries),
            },
        )
    return OutgoingMessage(
        chat_id=due.user_id,
        kind=OutboxKind.SUMMARY,
        dedupe_key=due.dedupe_key,
        text=esc(f"{due.text}\n\n{texts('records_summary_footer')}"),
        buttons=None,
        not_before=due.claimed_at,
        stale_after=None,  # the summary kind's grace
        attachment=attachment,
    )


async def render_weekly_chart(data: Mapping[str, Any]) -> Photo:
    """The outbox renderer for WEEKLY_CHART attachments (in a worker thread)."""
    png = await render_chart_png_async(
        entries_from_data(data["entries"]),
        start=date.fromisoformat(data["start"]),
        end=date.fromisoformat(data["end"]),
        title=WEEKLY_SUMMARY_CHART_TITLE,
    )
    return Photo(data=png, filename=CHART_FILENAME)


async def queue_weekly_summaries(deps: Deps) -> int:
    """Claim every weekly summary due now and queue it in the outbox; returns how many."""
    texts = deps.texts

    def compose(due: svc.DueSummary) -> OutgoingMessage:
        return compose_summary(texts, due)

    queued = 0
    while True:
        batch = await deps.records.claim_due_summaries(compose)
        queued += len(batch)
        if len(batch) < svc.SUMMARY_BATCH_SIZE:
            break
    if queued and deps.outbox is not None:
        deps.outbox.wake()
    return queued


async def weekly_summary_job(context: BotContext) -> None:
    """The repeating job's callback."""
    await queue_weekly_summaries(context.deps)


def schedule_weekly_summaries(application: BotApplication, deps: Deps) -> None:
    """Look for due weekly summaries every SCHEDULER_INTERVAL_SECONDS."""
    job_queue = application.job_queue
    if job_queue is None:
        log.warning(
            "weekly summaries are off: install python-telegram-bot[job-queue] for the job queue"
        )
        return
    job_queue.run_repeating(
        weekly_summary_job,
        interval=deps.settings.scheduler_interval_seconds,
        name="weekly-summaries",
    )


# --- wiring -----------------------------------------------------------------------------


def register(application: BotApplication) -> None:
    """Commands for private chats; buttons in group -1 so they run before the check-in's."""
    private_chat = filters.ChatType.PRIVATE
    commands = {
        "history": history,
        "insights": insights,
        "report": report,
        "export": export,
        "delete": delete,
        "summary": summary,
    }
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=private_chat))
    application.add_handler(CallbackQueryHandler(button, pattern=CALLBACK_PATTERN), group=-1)
