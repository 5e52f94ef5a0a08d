"""Turn service results into Telegram text and inline keyboards (no rules live here)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode

from bot.contentpack import Snippet
from bot.domain import conversation as conv
from bot.domain.checkin import CheckinAnswers, Location, Severity
from bot.domain.parsing import caffeine_from_choice
from bot.domain.snippets import render_snippet
from bot.domain.triage_opinion import Check
from bot.texts import Texts

SEVERITY_WORDS = {
    Severity.NONE: "none",
    Severity.MILD: "mild",
    Severity.MODERATE: "moderate",
    Severity.SEVERE: "severe",
}
LOCATION_WORDS = {
    Location.EYELID_FACE: "eyelid/face",
    Location.ARMS_HANDS: "arms/hands",
    Location.LEGS_FEET: "legs/feet",
    Location.TORSO: "torso",
    Location.MANY: "many places",
}
BUTTONS_PER_ROW = {"severity": 2, "reminder": 3, "sleep": 3, "caffeine": 3, "water": 3}


def esc(text: str) -> str:
    """Escape for Telegram HTML; quotes need no escaping there."""
    return html.escape(text, quote=False)


async def send_html(
    update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Send Telegram HTML to the update's chat (nothing when the update has no chat)."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


@dataclass(frozen=True)
class Rendered:
    """A message ready to send: HTML text and an optional keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


def format_number(value: float) -> str:
    """6.0 → "6", 6.5 → "6.5"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def checkin_summary(answers: CheckinAnswers) -> str:
    """One line of what was stored, in the person's own units where they gave them."""
    twitching = SEVERITY_WORDS[answers.severity]
    if answers.locations:
        places = ", ".join(LOCATION_WORDS[location] for location in sorted(answers.locations))
        twitching = f"{twitching} ({places})"
    caffeine = f"{answers.caffeine.mg} mg"
    servings = answers.caffeine.servings
    if servings is not None:
        unit = "serving" if servings == 1 else "servings"
        caffeine += f" ({format_number(servings)} {unit})"
    return (
        f"twitching {twitching}, sleep {format_number(answers.sleep_hours)} h, "
        f"caffeine {caffeine}, water {format_number(answers.water_litres)} l"
    )


def day_label(day: date, today: date | None = None) -> str:
    """ "Sun 22 Nov"; "Wed 1 Dec 2027" when ``today`` is given and the year is another."""
    label = day.strftime("%a %d %b").replace(" 0", " ")
    return f"{label} {day.year}" if today is not None and day.year != today.year else label


def reminder_label(texts: Texts, reminder: time | None) -> str:
    """ "09:00" or "no reminders"."""
    return reminder.strftime("%H:%M") if reminder else texts("reminder_off")


def _rows(buttons: list[InlineKeyboardButton], per_row: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[index : index + per_row] for index in range(0, len(buttons), per_row)]


def question(
    texts: Texts,
    book: conv.QuestionBook,
    draft: conv.Draft,
    *,
    default_timezone: str,
    screen_options: Sequence[tuple[str, str]] = (),
    summary: CheckinAnswers | None = None,
) -> Rendered:
    """The open question of a draft with its buttons (and Back where there is a way back)."""
    spec = book[draft.step]
    token, step = draft.token, draft.step

    def button(label: str, value: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=conv.encode_callback(token, step, value))

    text = esc(spec.text)
    if step == "redo":
        text = esc(spec.text.format(summary=checkin_summary(summary) if summary else ""))
    rows: list[list[InlineKeyboardButton]]
    if step == "screen":
        chosen = set(draft.answers.get("screen", []))
        *ticks, (none_id, none_label) = screen_options
        toggles = [
            button(
                f"{'☑' if value in chosen else '☐'} {label}",
                f"{'-' if value in chosen else '+'}{value}",
            )
            for value, label in ticks
        ]
        rows = [*_rows(toggles, 1), [button(none_label, none_id), button(texts("done"), conv.DONE)]]
    elif spec.kind == "multi":
        chosen = set(draft.answers.get("locations", []))
        toggles = [
            button(
                f"{'☑' if option.value in chosen else '☐'} {option.label}",
                f"{'-' if option.value in chosen else '+'}{option.value}",
            )
            for option in spec.options
        ]
        rows = [*_rows(toggles, 2), [button(texts("done"), conv.DONE)]]
    elif step == "caffeine" and draft.extra.get(conv.CAFFEINE_CHOICES):
        values: list[str] = list(draft.extra[conv.CAFFEINE_CHOICES])
        amount = values[0].partition(":")[2]
        text = esc(texts("caffeine_which_unit", amount=amount))
        rows = [[button(caffeine_choice_label(texts, value), value)] for value in values]
    elif step == "timezone":
        choices: list[str] = list(draft.extra.get("tz_choices", []))
        if choices:
            text = f"{esc(texts('timezone_choices'))}\n\n{text}"
            rows = [[button(name, str(index))] for index, name in enumerate(choices)]
        else:
            label = texts("use_default_timezone", timezone=default_timezone)
            rows = [[button(label, "default")]]
    else:
        options = [button(option.label, option.value) for option in spec.options]
        rows = _rows(options, BUTTONS_PER_ROW.get(step, 2))
    if conv.previous_step(draft) is not None:
        rows.append([button(texts("back"), conv.BACK)])
    return Rendered(text=text, keyboard=InlineKeyboardMarkup(rows) if rows else None)


def caffeine_choice_label(texts: Texts, value: str) -> str:
    """ "21 × coffee (1995 mg)", "21 × tea (987 mg)", "21 mg" for an asked-back count."""
    kind, _, amount = value.partition(":")
    caffeine = caffeine_from_choice(value)
    mg = caffeine.mg if caffeine is not None else 0
    return texts(f"caffeine_choice_{kind}", amount=amount, mg=mg)


def retry(texts: Texts, book: conv.QuestionBook, draft: conv.Draft, reason: str) -> str:
    """The friendly re-ask shown before repeating the question."""
    if reason in {"nothing_selected", "nothing_selected_screen"}:
        return esc(texts(reason))
    if reason == "too_long":
        return esc(texts("too_long"))
    return esc(book[draft.step].retry)


def answered_label(book: conv.QuestionBook, draft_before: conv.Draft, value: str) -> str | None:
    """The label of the button that was pressed, to leave on the answered question."""
    spec = book[draft_before.step]
    for option in spec.options:
        if option.value == value:
            return option.label
    return None


SETTINGS_TIMEZONE = "set|timezone"
SETTINGS_REMINDER = "set|reminder"


def settings_keyboard(texts: Texts) -> InlineKeyboardMarkup:
    """The two things /settings can change."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts("change_timezone"), callback_data=SETTINGS_TIMEZONE),
                InlineKeyboardButton(texts("change_reminder"), callback_data=SETTINGS_REMINDER),
            ]
        ]
    )


def check_question(texts: Texts, check: Check, token: str) -> tuple[str, InlineKeyboardMarkup]:
    """The uncertain-middle question with Yes/No buttons bound to its token."""
    key = "check_now" if check is Check.NOW else "check_worse"
    buttons = [
        InlineKeyboardButton(texts(label), callback_data=conv.encode_callback(token, step, value))
        for label, step, value in (
            ("check_yes", conv.CHECK_STEP, conv.YES),
            ("check_no", conv.CHECK_STEP, conv.NO),
        )
    ]
    return esc(texts(key)), InlineKeyboardMarkup([buttons])


def escalation_keyboard(texts: Texts, doctor_token: str | None) -> InlineKeyboardMarkup | None:
    """ "I've seen a doctor about this" under a ⚠️ that offers it; no keyboard otherwise."""
    if doctor_token is None:
        return None
    data = conv.encode_callback(doctor_token, conv.SEEN_DOCTOR_STEP, conv.SEEN_DOCTOR_VALUE)
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts("seen_doctor"), callback_data=data)]])


def pressed_label(message: object, data: str | None) -> str | None:
    """The text of the pressed button, read from the message's own keyboard."""
    markup = getattr(message, "reply_markup", None)
    if markup is None or data is None:
        return None
    for row in markup.inline_keyboard:
        for key in row:
            if key.callback_data == data:
                return str(key.text)
    return None


def snippet_messages(snippets: Sequence[Snippet]) -> list[str]:
    """Each snippet as its own message, with its source."""
    return [render_snippet(snippet) for snippet in snippets]
