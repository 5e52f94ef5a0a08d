"""The bot's conversations as pure state machines: one state per question.

A Draft is the whole state of an unfinished conversation; it is stored as-is in the database,
so a restart resumes at the same question. `advance` takes one input (a typed answer or a
button press) and returns what happened, never raising for bad input.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.alarm_fatigue import ScreenKind, screen_due
from bot.domain.checkin import (
    MAX_SLEEP_HOURS,
    MAX_WATER_LITRES,
    Caffeine,
    CheckinAnswers,
    Location,
    Severity,
)
from bot.domain.parsing import (
    AnswerError,
    CaffeineUnitQuestion,
    caffeine_from_choice,
    parse_caffeine,
    parse_clock_time,
    parse_locations,
    parse_severity,
    parse_sleep_hours,
    parse_water_litres,
    parse_whole_number,
    parse_yes_no,
)
from bot.domain.timezones import resolve_timezone
from bot.yaml_strict import load_strict_yaml

BACK = "<"
DONE = "!"
REMINDERS_OFF = "off"
MAX_TZ_CHOICES = 5
# Draft.extra key: the meanings offered for a count typed without a drink ("21").
CAFFEINE_CHOICES = "caffeine_choices"


class Kind(enum.StrEnum):
    """What a conversation is for; stored, so values never change."""

    ONBOARDING = "onboarding"
    CHECKIN = "checkin"
    SETTINGS = "settings"
    # Only an uncertain-middle question is pending (see triage_opinion.Check); no answers.
    CHECK = "check"


# Step name in the buttons of the uncertain-middle question, and the draft.extra key holding
# the pending question ({"token", "check", "bystander"}) beside an open conversation.
CHECK_STEP = "check"
YES = "yes"
NO = "no"


class OptionModel(BaseModel):
    """One button of a question."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: str = Field(pattern=r"^[A-Za-z0-9_.:+-]{1,24}$")
    label: str = Field(min_length=1, max_length=40)


class QuestionModel(BaseModel):
    """A question as written in content/questions.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z_]{1,16}$")
    kind: Literal["choice", "multi", "text"]
    text: str = Field(min_length=1, max_length=1500)
    options: tuple[OptionModel, ...] = ()
    retry: str = Field(min_length=1, max_length=500)


class QuestionFile(BaseModel):
    """The whole questions file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    questions: tuple[QuestionModel, ...]


REQUIRED_QUESTIONS = (
    "consent",
    "timezone",
    "reminder",
    "redo",
    "severity",
    "locations",
    "screen",
    "screen_new",
    "sleep",
    "caffeine",
    "water",
)


@dataclass(frozen=True)
class QuestionBook:
    """The questions by id, loaded once from the content pack."""

    questions: Mapping[str, QuestionModel]

    def __getitem__(self, question_id: str) -> QuestionModel:
        return self.questions[question_id]

    def option_values(self, question_id: str) -> frozenset[str]:
        """Button values a press may carry for that question."""
        return frozenset(option.value for option in self.questions[question_id].options)


def load_questions(path: Path) -> QuestionBook:
    """Read and validate content/questions.yaml; ValueError names what is wrong."""
    raw = load_strict_yaml(path.read_text(encoding="utf-8"), source=str(path))
    parsed = QuestionFile.model_validate(raw)
    by_id = {question.id: question for question in parsed.questions}
    if len(by_id) != len(parsed.questions):
        raise ValueError(f"{path}: duplicate question ids")
    missing = [qid for qid in REQUIRED_QUESTIONS if qid not in by_id]
    if missing:
        raise ValueError(f"{path}: missing questions {', '.join(missing)}")
    return QuestionBook(questions=by_id)


# --- state ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """An unfinished conversation: which question is open and what was answered so far."""

    kind: Kind
    step: str
    token: str
    answers: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    local_date: date | None = None

    def with_answer(self, key: str, value: Any, *, step: str | None = None) -> Draft:
        """A copy with one more answer (and optionally another open question)."""
        return replace(self, answers={**self.answers, key: value}, step=step or self.step)


def start_onboarding(token: str) -> Draft:
    """Consent comes first: nothing about health is stored before it."""
    return Draft(kind=Kind.ONBOARDING, step="consent", token=token)


def start_check(pending: Mapping[str, Any]) -> Draft:
    """A pending uncertain-middle question with no other conversation open."""
    return Draft(
        kind=Kind.CHECK, step=CHECK_STEP, token=str(pending["token"]), extra={CHECK_STEP: pending}
    )


def continue_onboarding(token: str) -> Draft:
    """Setup after consent was given earlier (setup was left half-way): timezone next."""
    return Draft(kind=Kind.ONBOARDING, step="timezone", token=token, answers={"consent": True})


def start_settings(token: str, only: Literal["timezone", "reminder"]) -> Draft:
    """Change one setting, reusing the onboarding question."""
    return Draft(kind=Kind.SETTINGS, step=only, token=token)


def start_checkin(
    token: str, local_date: date, *, already_done: bool, last_full_screen: date | None = None
) -> Draft:
    """A new check-in; when today's exists, first ask whether to update it. The day the full
    safety screen was last shown decides which screen this one asks (None: never shown)."""
    step = "redo" if already_done else "severity"
    extra = {"last_full_screen": last_full_screen.isoformat() if last_full_screen else None}
    return Draft(kind=Kind.CHECKIN, step=step, token=token, local_date=local_date, extra=extra)


def due_screen(
    answers: Mapping[str, Any], extra: Mapping[str, Any], local_date: date | None
) -> ScreenKind | None:
    """Which safety screen this check-in asks, given the answers so far (before the
    twitching question is answered, twitching is assumed: the screen may be asked)."""
    last = extra.get("last_full_screen")
    if local_date is None:
        return ScreenKind.FULL
    return screen_due(
        twitching_reported=answers.get("severity", 1) != Severity.NONE,
        last_full_screen_day=date.fromisoformat(last) if last else None,
        today=local_date,
    )


def checkin_steps(
    answers: Mapping[str, Any], extra: Mapping[str, Any], local_date: date | None = None
) -> list[str]:
    """Question order: where-it-twitches only on a day with twitching; then the safety screen
    that is due — the full list, or "anything new since last time?" (the full list follows
    a yes), or none on a calm day between weekly screens."""
    steps = ["severity"]
    if answers.get("severity", 1) != Severity.NONE:
        steps.append("locations")
    screen = due_screen(answers, extra, local_date)
    if screen is ScreenKind.FULL:
        steps.append("screen")
    elif screen is ScreenKind.SHORT:
        steps.append("screen_new")
        if answers.get("screen_new") is True:
            steps.append("screen")
    steps += ["sleep", "caffeine", "water"]
    return steps


def screen_shown(draft: Draft) -> ScreenKind | None:
    """The screen a finished check-in asked, as stored with it: FULL when the whole list was
    shown (also after "Yes, something new"), SHORT for "Nothing new", None for no screen."""
    steps = checkin_steps(draft.answers, draft.extra, draft.local_date)
    if "screen" in steps:
        return ScreenKind.FULL
    return ScreenKind.SHORT if "screen_new" in steps else None


def _steps_for(draft: Draft) -> list[str]:
    if draft.kind is Kind.ONBOARDING:
        return ["consent", "timezone", "reminder"]
    if draft.kind is Kind.SETTINGS:
        return [draft.step]
    if draft.step == "redo":
        return ["redo", *checkin_steps(draft.answers, draft.extra, draft.local_date)]
    return checkin_steps(draft.answers, draft.extra, draft.local_date)


def steps_of(draft: Draft) -> list[str]:
    """The questions of the draft's conversation, in order, given its answers so far."""
    return _steps_for(draft)


def previous_step(draft: Draft) -> str | None:
    """The question Back returns to; None on the first question and right after consent
    (consent is given once, not an answer to revise)."""
    if draft.kind is Kind.ONBOARDING and draft.step == "timezone":
        return None
    steps = _steps_for(draft)
    if draft.step not in steps:
        return None
    index = steps.index(draft.step)
    return steps[index - 1] if index > 0 else None


def _next_step(draft: Draft) -> str | None:
    steps = _steps_for(draft)
    index = steps.index(draft.step)
    return steps[index + 1] if index + 1 < len(steps) else None


# --- inputs and outcomes ----------------------------------------------------------------


@dataclass(frozen=True)
class Typed:
    """A typed message while a question is open."""

    text: str


@dataclass(frozen=True)
class Pressed:
    """A button press, already decoded from callback data."""

    step: str
    value: str


@dataclass(frozen=True)
class Moved:
    """The answer was taken; `draft.step` is the next open question."""

    draft: Draft
    notice: str | None = None


@dataclass(frozen=True)
class Stayed:
    """Still on the same question, with new state (a ticked area, timezone choices)."""

    draft: Draft


@dataclass(frozen=True)
class Invalid:
    """The answer could not be used; re-ask with an example."""

    draft: Draft
    reason: str


@dataclass(frozen=True)
class Completed:
    """Every question is answered."""

    draft: Draft
    notice: str | None = None


@dataclass(frozen=True)
class Declined:
    """The person said no (to consent, or to updating today's check-in)."""

    draft: Draft


@dataclass(frozen=True)
class NotCurrent:
    """A press on a question that is no longer the open one (double tap, old message)."""

    draft: Draft


@dataclass(frozen=True)
class Forged:
    """A press whose value that question never offered."""

    draft: Draft


Outcome = Moved | Stayed | Invalid | Completed | Declined | NotCurrent | Forged


@dataclass(frozen=True)
class Environment:
    """What answering needs from outside: the clock, the default timezone, the screen options."""

    now: datetime
    default_timezone: str
    screen_options: frozenset[str] = frozenset()
    screen_none: str = "none"


# --- answering --------------------------------------------------------------------------


def advance(book: QuestionBook, draft: Draft, given: Typed | Pressed, env: Environment) -> Outcome:
    """Apply one input to the open question."""
    if isinstance(given, Pressed):
        if given.step != draft.step:
            return NotCurrent(draft)
        if given.value == BACK:
            back_to = previous_step(draft)
            if not back_to:
                return NotCurrent(draft)
            rest = {key: item for key, item in draft.extra.items() if key != CAFFEINE_CHOICES}
            return Moved(replace(draft, step=back_to, extra=rest))
    try:
        return _answer(book, draft, given, env)
    except AnswerError as error:
        return Invalid(draft, error.reason)


def _move_on(draft: Draft, notice: str | None = None) -> Moved | Completed:
    following = _next_step(draft)
    if following is None:
        return Completed(draft, notice)
    return Moved(replace(draft, step=following), notice)


def _answer(book: QuestionBook, draft: Draft, given: Typed | Pressed, env: Environment) -> Outcome:
    step = draft.step
    offered = step in {"locations", "timezone", "screen", "caffeine"} or isinstance(given, Typed)
    if not offered and given.value not in book.option_values(step):  # type: ignore[union-attr]
        return Forged(draft)
    if step in {"consent", "redo"}:
        agreed = given.value == "yes" if isinstance(given, Pressed) else parse_yes_no(given.text)
        if not agreed:
            return Declined(draft)
        return _move_on(draft.with_answer(step, True))
    if step == "timezone":
        return _answer_timezone(draft, given, env)
    if step == "reminder":
        return _move_on(draft.with_answer("reminder", _reminder_value(given)))
    if step == "severity":
        severity = (
            Severity(int(given.value)) if isinstance(given, Pressed) else parse_severity(given.text)
        )
        answered = draft.with_answer("severity", int(severity))
        if severity == Severity.NONE:
            answered = answered.with_answer("locations", [])
        return _move_on(answered)
    if step == "locations":
        return _answer_locations(draft, given)
    if step == "screen":
        return _answer_screen(draft, given, env)
    if step == "screen_new":
        return _answer_screen_new(draft, given)
    if step == "sleep":
        hours = float(given.value) if isinstance(given, Pressed) else parse_sleep_hours(given.text)
        return _move_on(draft.with_answer("sleep", _checked(hours, 0.0, MAX_SLEEP_HOURS)))
    if step == "caffeine":
        return _answer_caffeine(book, draft, given)
    if step == "water":
        litres = (
            float(given.value) if isinstance(given, Pressed) else parse_water_litres(given.text)
        )
        return _move_on(draft.with_answer("water", _checked(litres, 0.0, MAX_WATER_LITRES)))
    raise AnswerError("not_understood")


def _checked(value: float, low: float, high: float) -> float:
    if not low <= value <= high:
        raise AnswerError("out_of_range")
    return value


def _answer_caffeine(book: QuestionBook, draft: Draft, given: Typed | Pressed) -> Outcome:
    """Drinks or mg; a count without a drink ("21") is asked back with a button per meaning."""
    asked: Sequence[str] = draft.extra.get(CAFFEINE_CHOICES, [])
    if isinstance(given, Pressed):
        if given.value not in book.option_values("caffeine") and given.value not in asked:
            return Forged(draft)
        caffeine = caffeine_from_choice(given.value)
        if caffeine is None:
            return Forged(draft)
    else:
        try:
            caffeine = parse_caffeine(given.text)
        except CaffeineUnitQuestion as question:
            if not question.choices:
                raise AnswerError("out_of_range") from question
            extra = {**draft.extra, CAFFEINE_CHOICES: list(question.choices)}
            return Stayed(replace(draft, extra=extra))
    value = {"mg": caffeine.mg, "servings": caffeine.servings}
    rest = {key: item for key, item in draft.extra.items() if key != CAFFEINE_CHOICES}
    return _move_on(replace(draft.with_answer("caffeine", value), extra=rest))


REMINDER_OFF_WORDS = frozenset({"off", "no", "none", "never", "no reminders", "no reminder"})


def _reminder_value(given: Typed | Pressed) -> str | None:
    """ "HH:MM" or None for no reminders."""
    if isinstance(given, Pressed):
        return None if given.value == REMINDERS_OFF else given.value
    if given.text.strip().casefold() in REMINDER_OFF_WORDS:
        return None
    return parse_clock_time(given.text).strftime("%H:%M")


def _answer_locations(draft: Draft, given: Typed | Pressed) -> Outcome:
    if isinstance(given, Typed):
        chosen = parse_locations(given.text)
        return _move_on(draft.with_answer("locations", sorted(chosen)))
    selected = set(draft.answers.get("locations", []))
    if given.value == DONE:
        if not selected:
            return Invalid(draft, "nothing_selected")
        return _move_on(draft)
    return _tick(
        draft, "locations", given.value, frozenset(location.value for location in Location)
    )


def _tick(draft: Draft, key: str, value: str, allowed: frozenset[str]) -> Outcome:
    """A multi-select press: "+name" ticks, "-name" unticks; idempotent, so a double tap is
    harmless. Anything else, or a name the question never offered, is forged."""
    sign, name = value[:1], value[1:]
    if sign not in {"+", "-"} or name not in allowed:
        return Forged(draft)
    selected = set(draft.answers.get(key, []))
    if sign == "+":
        selected.add(name)
    else:
        selected.discard(name)
    return Stayed(draft.with_answer(key, sorted(selected)))


SCREEN_NONE_WORDS = frozenset(
    {"none", "no", "nope", "nothing", "none of these", "none of them", "all good", "n"}
)


def _answer_screen(draft: Draft, given: Typed | Pressed, env: Environment) -> Outcome:
    """Red-flag screen: several ticks then Done, or "None of these" in one tap."""
    if isinstance(given, Typed):
        if given.text.strip().casefold().rstrip(".!") in SCREEN_NONE_WORDS:
            return _move_on(draft.with_answer("screen", []))
        raise AnswerError("use_buttons")
    selected = set(draft.answers.get("screen", []))
    if given.value == env.screen_none:
        return _move_on(draft.with_answer("screen", []))
    if given.value == DONE:
        if not selected:
            return Invalid(draft, "nothing_selected_screen")
        return _move_on(draft.with_answer("screen", sorted(selected)))
    return _tick(draft, "screen", given.value, env.screen_options - {env.screen_none})


NOTHING_NEW_WORDS = SCREEN_NONE_WORDS | {"nothing new", "no nothing new", "nothing new today"}


def _answer_screen_new(draft: Draft, given: Typed | Pressed) -> Outcome:
    """ "Anything new since last time?": no is one tap; yes opens the full list. A no also
    clears ticks left from going Back, so only what was confirmed is stored."""
    if isinstance(given, Pressed):
        something_new = given.value == "yes"
    elif given.text.strip().casefold().rstrip(".!") in NOTHING_NEW_WORDS:
        something_new = False
    else:
        something_new = parse_yes_no(given.text)
    answered = draft.with_answer("screen_new", something_new)
    if not something_new:
        answered = answered.with_answer("screen", [])
    return _move_on(answered)


def _answer_timezone(draft: Draft, given: Typed | Pressed, env: Environment) -> Outcome:
    if isinstance(given, Pressed):
        choices: Sequence[str] = draft.extra.get("tz_choices", [])
        index = parse_whole_number(given.value)
        if given.value == "default":
            name = env.default_timezone
        elif index is not None and index < len(choices):
            name = choices[index]
        else:
            return Forged(draft)
        return _move_on(draft.with_answer("timezone", name))
    found = resolve_timezone(given.text, env.now)
    if not found:
        raise AnswerError("not_understood")
    if len(found) == 1:
        choice = found[0]
        notice = "fixed_offset" if choice.fixed_offset else None
        return _move_on(draft.with_answer("timezone", choice.name), notice)
    names = [choice.name for choice in found[:MAX_TZ_CHOICES]]
    return Stayed(replace(draft, extra={**draft.extra, "tz_choices": names}))


# --- results ----------------------------------------------------------------------------


def checkin_answers(draft: Draft) -> CheckinAnswers:
    """The completed check-in in storage units."""
    answers = draft.answers
    caffeine = answers["caffeine"]
    return CheckinAnswers(
        severity=Severity(answers["severity"]),
        locations=frozenset(Location(value) for value in answers.get("locations", [])),
        sleep_hours=float(answers["sleep"]),
        caffeine=Caffeine(mg=int(caffeine["mg"]), servings=caffeine.get("servings")),
        water_litres=float(answers["water"]),
    )


def reminder_time(draft: Draft) -> time | None:
    """The chosen reminder time, None when reminders are off."""
    value = draft.answers.get("reminder")
    return time.fromisoformat(value) if value else None


# --- callback data ----------------------------------------------------------------------

# "I've seen a doctor about this" under a ⚠️: the token is the escalation's own (stored with
# it), not a conversation's, so the button works whatever conversation is open.
SEEN_DOCTOR_STEP = "seen_doctor"
SEEN_DOCTOR_VALUE = "yes"

CALLBACK_PATTERN = re.compile(r"^([a-z0-9]{6})\|([a-z_]{1,16})\|([A-Za-z0-9_.:+!<-]{1,24})$")


@dataclass(frozen=True)
class CallbackRef:
    """Decoded button data: which conversation, which question, which value."""

    token: str
    step: str
    value: str


def encode_callback(token: str, step: str, value: str) -> str:
    """Button data; always well under Telegram's 64-byte limit."""
    data = f"{token}|{step}|{value}"
    if not CALLBACK_PATTERN.fullmatch(data):
        raise ValueError(f"cannot encode button data {data!r}")
    return data


def decode_callback(data: str | None) -> CallbackRef | None:
    """None for anything the bot did not make (forged or foreign data)."""
    if not data or len(data) > 64:
        return None
    match = CALLBACK_PATTERN.fullmatch(data)
    if not match:
        return None
    return CallbackRef(token=match[1], step=match[2], value=match[3])
