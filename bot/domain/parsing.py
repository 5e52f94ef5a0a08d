"""Typed answers to check-in and onboarding questions, read generously but stored strictly.

Every question offers buttons, but people also type: "6h30", "2 coffees and a tea", "1,5l",
"arms and legs". Each parser here turns such text into a value in storage units, or raises
AnswerError so the bot can re-ask with an example. Nothing odd is ever returned: numbers are
range-checked, rounded to a sensible step, and anything we could read two ways is "ambiguous".

All parsers share one normalisation (casefold, Unicode digits and dashes to ASCII, invisible
characters dropped) and then match against word tables kept as module constants below.

Deliberate readings (so they are easy to find and to change):
- Severity on a 0-10 scale ("7/10"): 0 none, up to 3 mild, up to 6 moderate, up to 10 severe.
  A bare number is the 0-3 scale of the buttons; a bare 4-10 is out of range (no guessing).
- Sleep "6.30" or "6,45" (two-digit fraction other than .25/.50/.75) means 6 h 30 / 6 h 45,
  because people write decimal hours as .25/.5/.75 but clock-style minutes after a dot.
- Sleep "a-b" is the midpoint when it reads as durations ("6-7"), a bed-to-wake clock range
  when it cannot ("23:00-6:30", "11pm-7am", "22-6"); an evening start without am/pm ("11-7")
  is taken as pm.
- Caffeine: a count without a drink ("2", "21", "3 cups") is never guessed: it raises
  CaffeineUnitQuestion, and the bot asks back "cups of coffee, cups of tea or mg?" with
  buttons. Espresso and coffee drinks count as coffee (MG_PER_COFFEE), tea as MG_PER_TEA, cola
  as MG_PER_COLA, decaf and herbal tea as 0 mg (and not as servings). "double" counts two
  servings; a "shot" is espresso. Servings are reported only when no mg was typed.
- Water: a bare number up to 10 is litres, 100-10000 is ml, anything between is ambiguous.
  "oz" is the US fluid ounce; pints and gallons differ between the UK and US, so ambiguous.
- "1,500 ml" and "1.500 mg" use a thousands separator (1.5 ml of water is not a real answer);
  elsewhere a comma is a decimal separator.
- Words like "about", "around", "or more", "at least" are dropped: "9 h or more" stores 9.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import time
from decimal import ROUND_HALF_UP, Decimal

from bot.domain.checkin import (
    LITRES_PER_GLASS,
    MAX_CAFFEINE_MG,
    MAX_SLEEP_HOURS,
    MAX_WATER_LITRES,
    MG_PER_COFFEE,
    MG_PER_ENERGY_DRINK,
    MG_PER_TEA,
    Caffeine,
    Location,
    Severity,
)

MAX_TEXT_LENGTH = 200
MAX_SERVINGS = 20
MG_PER_COLA = 35
MG_PER_DECAF = 0
LITRES_PER_BOTTLE = Decimal("0.5")
LITRES_PER_US_FLUID_OUNCE = Decimal("0.0295735295625")
SLEEP_STEP_HOURS = Decimal("0.25")
WATER_STEP_LITRES = Decimal("0.05")
# A range "a-b" is averaged only when it is a plausible estimate, not a wild span like "1-10".
MAX_RANGE_RATIO = 2

# Reasons carried by AnswerError; the bot words its re-ask from them.
EMPTY = "empty"
TOO_LONG = "too_long"
NOT_UNDERSTOOD = "not_understood"
OUT_OF_RANGE = "out_of_range"
AMBIGUOUS = "ambiguous"
WHICH_UNIT = "which_unit"


class AnswerError(ValueError):
    """Typed answer not understood or out of range."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- normalisation ----------------------------------------------------------------------

_VULGAR_FRACTIONS: Mapping[str, Decimal] = {
    "½": Decimal("0.5"),
    "¼": Decimal("0.25"),
    "¾": Decimal("0.75"),
}
_CHARACTER_REPLACEMENTS: Mapping[str, str] = {
    "\u2212": "-",  # minus sign
    "\u066b": ".",  # Arabic decimal separator
    "\u066c": ",",  # Arabic thousands separator
    "\u060c": ",",  # Arabic comma
    "\u00d7": "x",  # multiplication sign: "2×coffee"
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
}
# Accents, variation selectors, direction marks, zero-width joiners and skin-tone modifiers
# carry no meaning for these answers.
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Sk"})
_SPACE_CATEGORIES = frozenset({"Cc", "Zs", "Zl", "Zp", "Co", "Cs", "Cn"})


def normalized_text(text: str) -> str:
    """Casefolded text with ASCII digits, '-' for every dash and single spaces.

    Raises AnswerError for empty or over-long input, the checks every parser shares.
    """
    stripped = text.strip()
    if len(stripped) > MAX_TEXT_LENGTH:
        raise AnswerError(TOO_LONG)
    folded = _FRACTION_CHARACTER.sub(_spell_fraction, stripped.casefold())
    characters: list[str] = []
    for character in unicodedata.normalize("NFKD", folded):
        category = unicodedata.category(character)
        if character in _CHARACTER_REPLACEMENTS:
            characters.append(_CHARACTER_REPLACEMENTS[character])
        elif category == "Nd":
            characters.append(str(unicodedata.decimal(character)))
        elif category == "Pd":
            characters.append("-")
        elif category in _SPACE_CATEGORIES:
            characters.append(" ")
        elif category not in _DROPPED_CATEGORIES:
            characters.append(character)
    result = " ".join("".join(characters).split())
    if not result:
        raise AnswerError(EMPTY)
    return result


_FRACTION_CHARACTER = re.compile(r"(\d*)\s*([½¼¾])")


MAX_WHOLE_NUMBER_DIGITS = 6


def parse_whole_number(text: str) -> int | None:
    """A non-negative whole number written in decimal digits (ASCII or "٣"), else None.

    Command arguments and button data go through here instead of ``str.isdigit``, which also
    accepts superscripts ("²") that ``int`` then refuses with a ValueError.
    """
    if not 1 <= len(text) <= MAX_WHOLE_NUMBER_DIGITS or not text.isdecimal():
        return None
    return int(text)


def _spell_fraction(match: re.Match[str]) -> str:
    whole = Decimal(match.group(1) or 0)
    return f" {whole + _VULGAR_FRACTIONS[match.group(2)]} "


def _words_only(text: str) -> str:
    """Letters, digits and spaces: punctuation and emoji (button decorations) removed."""
    kept = (character if character.isalnum() or character == "'" else " " for character in text)
    return " ".join("".join(kept).replace("'", "").split())


# --- numbers ------------------------------------------------------------------------------

_NUMBER = r"\d+(?:[.,]\d+)?"
_NUMBER_ONLY = re.compile(_NUMBER)
_SMALL_NUMBER_WORDS: Mapping[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS_WORDS: Mapping[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_DIGIT_WORDS = "|".join(word for word, value in _SMALL_NUMBER_WORDS.items() if 1 <= value <= 9)
_SPELLED_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS_WORDS)})(?:[\s-](?P<ones>{_DIGIT_WORDS}))?"
    rf"|(?P<small>{'|'.join(_SMALL_NUMBER_WORDS)}))\b"
)
_FRACTION_WORDS: Mapping[str, Decimal] = {
    "a half": Decimal("0.5"),
    "one half": Decimal("0.5"),
    "a quarter": Decimal("0.25"),
    "3 quarters": Decimal("0.75"),
}
_FRACTION_WORD = "|".join(_FRACTION_WORDS)
# "half a litre", "a quarter of an hour", "3 quarters of an hour", "a couple of coffees"
_FRACTION_OF = re.compile(
    r"\b(?P<fraction>half|a quarter|3 quarters)(?:\s+of)?\s+an?\b|\ba\s+couple(?:\s+of)?\b"
)
# "2 and a half", "an hour and a half", "1 litre and a quarter"
_AND_FRACTION = re.compile(
    rf"\b(?P<count>{_NUMBER}|an?)(?P<unit>\s+[a-z]+)?\s+and\s+(?P<fraction>{_FRACTION_WORD})\b"
)
_ARTICLE = re.compile(r"\ban?\b")
_MERIDIEM_DOTS = re.compile(r"\b([ap])\.\s?m\b\.?")


def _decimal(number: str, *, thousands_separator: bool = False) -> Decimal:
    """A matched number; "1,500" or "1.500" is 1500 only where the caller allows it."""
    if thousands_separator and re.fullmatch(r"\d{1,3}[.,]\d{3}", number):
        return Decimal(number.replace(",", "").replace(".", ""))
    return Decimal(number.replace(",", "."))


def _digits_for_words(text: str) -> str:
    """Spelled-out numbers become digits: "seven and a half" -> "7.5", "a coffee" -> "1 coffee"."""
    text = _SPELLED_NUMBER.sub(_spelled_number_value, text)
    text = _FRACTION_OF.sub(_fraction_of_value, text)
    text = _AND_FRACTION.sub(_and_fraction_value, text)
    return _ARTICLE.sub("1", text)


def _spelled_number_value(match: re.Match[str]) -> str:
    if match.group("small"):
        return str(_SMALL_NUMBER_WORDS[match.group("small")])
    ones = _SMALL_NUMBER_WORDS[match.group("ones")] if match.group("ones") else 0
    return str(_TENS_WORDS[match.group("tens")] + ones)


def _fraction_of_value(match: re.Match[str]) -> str:
    fraction = match.group("fraction")
    if fraction is None:
        return "2"
    return {"half": "0.5", "a quarter": "0.25", "3 quarters": "0.75"}[fraction]


def _and_fraction_value(match: re.Match[str]) -> str:
    count_text = match.group("count")
    count = Decimal(1) if count_text in {"a", "an"} else _decimal(count_text)
    total = count + _FRACTION_WORDS[match.group("fraction")]
    return f"{total}{match.group('unit') or ''}"


_APPROXIMATIONS = re.compile(
    r"\b(?:about|around|approx(?:imately)?|roughly|nearly|almost|maybe|probably|perhaps|like"
    r"|circa|ca|only|just|some|or so|give or take|or more|or less|at least|at most|more than"
    r"|less than|over|under|up to|a bit more than|a bit less than|estimated)\b"
    r"|(?<=\d)\s*-?ish\b|[~≈±]"
)
_TRAILING_PUNCTUATION = re.compile(r"[\s.!?]+$")


def _quantity_text(text: str, fillers: re.Pattern[str]) -> str:
    """Normalised text with words spelled as digits and filler or hedging words removed."""
    normal = _TRAILING_PUNCTUATION.sub("", normalized_text(text))
    if re.match(r"-\s*\d", normal):
        raise AnswerError(OUT_OF_RANGE)
    normal = _digits_for_words(_MERIDIEM_DOTS.sub(r"\1m", normal))
    normal = _APPROXIMATIONS.sub(" ", normal)
    normal = fillers.sub(" ", normal)
    cleaned = " ".join(normal.split())
    if not cleaned:
        raise AnswerError(NOT_UNDERSTOOD)
    return cleaned


def _in_range(value: Decimal, maximum: float, step: Decimal) -> Decimal:
    """The value rounded to step, or AnswerError when outside 0..maximum."""
    if value < 0 or value > Decimal(str(maximum)):
        raise AnswerError(OUT_OF_RANGE)
    return (value / step).to_integral_value(rounding=ROUND_HALF_UP) * step


def _midpoint(low: Decimal, high: Decimal) -> Decimal:
    """The middle of an estimate like "6-7"; a wide or reversed span is ambiguous."""
    if low > high or high > low * MAX_RANGE_RATIO:
        raise AnswerError(AMBIGUOUS)
    return (low + high) / 2


# Lists: "coffee, tea", "1 l and 2 glasses", "1 coffee 2 teas"; a comma between digits is a
# decimal comma, and "x 2" is a count, not a new item.
_LIST_SEPARATOR = re.compile(
    r"\s*(?:(?<!\d),|,(?!\d)|;|&|\+|\band\b|\bplus\b|\bwith\b)\s*|(?<=[a-wyz])\s+(?=\d)"
)


def _list_items(text: str) -> list[str]:
    items = [item for item in _LIST_SEPARATOR.split(text) if item.strip()]
    if not items:
        raise AnswerError(NOT_UNDERSTOOD)
    return items


# --- severity -------------------------------------------------------------------------------

SEVERITY_WORDS: Mapping[str, Severity] = {
    **dict.fromkeys(
        ["none", "no", "nope", "nothing", "zero", "nil", "nada", "not at all", "not any",
         "no twitching", "no twitches", "not today", "all calm", "calm"],
        Severity.NONE,
    ),
    **dict.fromkeys(
        ["mild", "mildly", "a little", "little", "a little bit", "a bit", "bit", "slight",
         "slightly", "light", "minor", "low", "some", "not much", "not bad", "not too bad",
         "barely", "a few", "few", "occasional", "occasionally", "weak", "faint"],
        Severity.MILD,
    ),
    **dict.fromkeys(
        ["moderate", "moderately", "medium", "mid", "noticeable", "quite a bit", "a fair bit",
         "a fair amount", "fair", "so so", "average", "middling", "some days worse", "okay ish",
         "in between"],
        Severity.MODERATE,
    ),
    **dict.fromkeys(
        ["severe", "severely", "bad", "very bad", "really bad", "a lot", "lots", "loads",
         "heavy", "strong", "intense", "terrible", "awful", "horrible", "extreme", "constant",
         "worst", "high", "non stop", "nonstop", "all day"],
        Severity.SEVERE,
    ),
}  # fmt: skip
_SEVERITY_FILLERS = re.compile(
    r"\b(?:twitching|twitches|twitchy|twitch|today|it s|its|it is|it was|i d say|id say|i think"
    r"|i guess|maybe|probably|just|only|level|kinda|kind of|sort of|i would say|so far)\b"
)
_INTENSIFIERS = re.compile(r"\b(?:very|really|pretty|quite|super|extremely|fairly|rather)\b")
_TEN_POINT_SCALE = re.compile(rf"(?P<score>{_NUMBER})\s*(?:/|out of|of)\s*10")
# Upper bound of each band on the 0-10 scale; documented in the module docstring.
_TEN_POINT_BANDS: tuple[tuple[Decimal, Severity], ...] = (
    (Decimal(0), Severity.NONE),
    (Decimal(3), Severity.MILD),
    (Decimal(6), Severity.MODERATE),
    (Decimal(10), Severity.SEVERE),
)
_ALTERNATIVE_SEPARATOR = re.compile(r"\s*(?:/|\bor\b|\bto\b|-|,|\(|\))\s*")


def parse_severity(text: str) -> Severity:
    """How much twitching: a word ("mild", "very bad"), 0-3, or a 0-10 score ("7/10")."""
    normal = _TRAILING_PUNCTUATION.sub("", normalized_text(text))
    if re.match(r"-\s*\d", normal):
        raise AnswerError(OUT_OF_RANGE)
    scored = _TEN_POINT_SCALE.fullmatch(normal)
    if scored:
        return _severity_from_ten_point(_decimal(scored.group("score")))
    whole = _severity_phrase(normal)
    if whole is not None:
        return whole
    pieces = [piece for piece in _ALTERNATIVE_SEPARATOR.split(normal) if piece.strip()]
    severities = [_severity_phrase(piece) for piece in pieces]
    known = {severity for severity in severities if severity is not None}
    if not pieces or None in severities:
        raise AnswerError(NOT_UNDERSTOOD)
    if len(known) > 1:
        raise AnswerError(AMBIGUOUS)
    return known.pop()


def _severity_from_ten_point(score: Decimal) -> Severity:
    for upper, severity in _TEN_POINT_BANDS:
        if score <= upper:
            return severity
    raise AnswerError(OUT_OF_RANGE)


def _severity_phrase(piece: str) -> Severity | None:
    """One answer on its own: a 0-3 number or a table word, else None."""
    stripped = piece.strip()
    if _NUMBER_ONLY.fullmatch(stripped):
        value = _decimal(stripped)
        if value > Severity.SEVERE:
            raise AnswerError(OUT_OF_RANGE)
        if value != value.to_integral_value():
            raise AnswerError(AMBIGUOUS)
        return Severity(int(value))
    words = _words_only(_SEVERITY_FILLERS.sub(" ", _words_only(stripped)))
    if words in SEVERITY_WORDS:
        return SEVERITY_WORDS[words]
    plain = " ".join(_INTENSIFIERS.sub(" ", words).split())
    return SEVERITY_WORDS.get(plain)


# --- locations ------------------------------------------------------------------------------

LOCATION_WORDS: Mapping[str, Location] = {
    **dict.fromkeys(
        ["eyelid", "eye", "lid", "face", "facial", "cheek", "lip", "mouth", "jaw", "chin",
         "forehead", "eyebrow", "brow", "nose", "temple", "tongue", "eyelid face"],
        Location.EYELID_FACE,
    ),
    **dict.fromkeys(
        ["arm", "hand", "finger", "thumb", "wrist", "forearm", "elbow", "bicep", "biceps",
         "tricep", "triceps", "shoulder", "palm", "arms hands"],
        Location.ARMS_HANDS,
    ),
    **dict.fromkeys(
        ["leg", "foot", "feet", "calf", "calves", "thigh", "toe", "knee", "shin", "ankle",
         "hamstring", "quad", "quads", "quadriceps", "hip", "glute", "buttock", "bum", "sole",
         "heel", "arch", "legs feet"],
        Location.LEGS_FEET,
    ),
    **dict.fromkeys(
        ["back", "chest", "stomach", "belly", "abdomen", "abs", "tummy", "rib", "ribs", "torso",
         "trunk", "neck", "waist", "pec", "pecs", "spine"],
        Location.TORSO,
    ),
    **dict.fromkeys(
        ["everywhere", "all over", "all over the body", "all over my body", "whole body",
         "entire body", "full body", "many", "many places", "many areas", "lots of places",
         "all", "everything", "all of them", "all over the place", "body", "multiple places",
         "several places", "various places"],
        Location.MANY,
    ),
}  # fmt: skip
# Words that only say which one or how: "left eye", "both calves", "my upper back".
_LOCATION_MODIFIERS = frozenset(
    {"left", "right", "both", "my", "the", "upper", "lower", "inner", "outer", "top", "bottom",
     "under", "in", "on", "of", "a", "an", "one", "two", "only", "just", "little", "big",
     "small", "pinky", "index", "ring", "middle", "muscle", "muscles", "area", "areas",
     "twitching", "twitches", "twitch", "sometimes", "mostly", "mainly", "also", "too",
     "around", "near", "side", "sides", "today"}
)  # fmt: skip
_LOCATION_SEPARATOR = re.compile(r"\s*(?:,|;|/|&|\+|\band\b|\bplus\b|\bor\b|\n)\s*")


def parse_locations(text: str) -> frozenset[Location]:
    """Body areas, listed with commas, "and" or "/": "left eye", "arms and legs", "everywhere"."""
    normal = normalized_text(text)
    found: set[Location] = set()
    for piece in _LOCATION_SEPARATOR.split(normal):
        words = _words_only(piece)
        if words:
            found |= _locations_in(words)
    if not found:
        raise AnswerError(NOT_UNDERSTOOD)
    return frozenset(found)


def _locations_in(words: str) -> set[Location]:
    """The areas one list item names; any unknown word makes the whole answer unusable."""
    whole = _location_word(words)
    if whole is not None:
        return {whole}
    found: set[Location] = set()
    tokens = words.split()
    for token in tokens:
        location = _location_word(token)
        if location is not None:
            found.add(location)
        elif token not in _LOCATION_MODIFIERS:
            raise AnswerError(NOT_UNDERSTOOD)
    if not found and {"side", "sides"} & set(tokens):
        # "my left side" is the flank; "side of my face" only says where on the face.
        found.add(Location.TORSO)
    return found


def _location_word(word: str) -> Location | None:
    for candidate in (word, word.removesuffix("s"), word.removesuffix("es")):
        if candidate in LOCATION_WORDS:
            return LOCATION_WORDS[candidate]
    return None


# --- sleep ------------------------------------------------------------------------------------

_HOUR_UNIT = r"(?:h|hr|hrs|hour|hours)"
_MINUTE_UNIT = r"(?:m|min|mins|minute|minutes)"
_SLEEP_FILLERS = re.compile(
    r"\b(?:i slept|slept|sleep|of sleep|sleeping|last night|tonight|i got|got|i had|had"
    r"|in total|total|a night|per night|only)\b"
)
NO_SLEEP_WORDS = frozenset(
    {"none", "no", "nothing", "not at all", "didn't", "didnt", "did not", "none at all",
     "all nighter", "all-nighter", "zero"}
)  # fmt: skip
_SLEEP_MINUTES_ONLY = re.compile(rf"(?P<minutes>{_NUMBER})\s*{_MINUTE_UNIT}")
_SLEEP_COLON = re.compile(rf"(?P<hours>\d{{1,2}}):(?P<minutes>\d{{2}})\s*{_HOUR_UNIT}?")
_SLEEP_HOURS_MINUTES = re.compile(
    rf"(?P<hours>{_NUMBER})\s*{_HOUR_UNIT}?\.?"
    rf"(?:\s*(?:and\s+)?(?P<minutes>\d{{1,2}})\s*{_MINUTE_UNIT}?)?"
)
_SLEEP_SIDE = r"\d+(?:[.,:h]\d+)?"
_SLEEP_RANGE = re.compile(
    rf"(?:from\s+)?(?P<start>{_SLEEP_SIDE})\s*(?P<start_meridiem>am|pm)?\s*{_HOUR_UNIT}?"
    rf"\s*(?:-|to|until|till|til|or)\s*"
    rf"(?P<end>{_SLEEP_SIDE})\s*(?P<end_meridiem>am|pm)?\s*{_HOUR_UNIT}?"
)
_DECIMAL_HOURS_FRACTIONS = frozenset({"25", "50", "75"})
_HOURS_PER_DAY = Decimal(24)


def parse_sleep_hours(text: str) -> float:
    """Hours slept: "6.5", "6h30", "6:30", "7 hours", "seven", "6-7", "23:00-6:30"."""
    normal = _quantity_text(text, _SLEEP_FILLERS)
    if normal in NO_SLEEP_WORDS:
        return 0.0
    ranged = _SLEEP_RANGE.fullmatch(normal)
    hours = _sleep_range_hours(ranged) if ranged else _sleep_duration_hours(normal)
    return float(_in_range(hours, MAX_SLEEP_HOURS, SLEEP_STEP_HOURS))


def _sleep_duration_hours(normal: str) -> Decimal:
    minutes_only = _SLEEP_MINUTES_ONLY.fullmatch(normal)
    if minutes_only:
        return _decimal(minutes_only.group("minutes")) / 60
    colon = _SLEEP_COLON.fullmatch(normal)
    if colon:
        return _hours_and_minutes(colon.group("hours"), colon.group("minutes"))
    hours_minutes = _SLEEP_HOURS_MINUTES.fullmatch(normal)
    if hours_minutes:
        hours, minutes = hours_minutes.group("hours", "minutes")
        if minutes is None:
            return _hours_from_number(hours)
        if not hours.isdigit():
            raise AnswerError(NOT_UNDERSTOOD)
        return _hours_and_minutes(hours, minutes)
    raise AnswerError(NOT_UNDERSTOOD)


def _hours_and_minutes(hours: str, minutes: str) -> Decimal:
    if int(minutes) > 59:
        raise AnswerError(OUT_OF_RANGE)
    return Decimal(hours) + Decimal(minutes) / 60


def _hours_from_number(number: str) -> Decimal:
    """Decimal hours, except "6.30"-style clock minutes (see the module docstring)."""
    whole, _, fraction = number.replace(",", ".").partition(".")
    if len(fraction) == 2 and fraction not in _DECIMAL_HOURS_FRACTIONS and int(fraction) < 60:
        return Decimal(whole) + Decimal(fraction) / 60
    return _decimal(number)


def _sleep_range_hours(match: re.Match[str]) -> Decimal:
    start, end = match.group("start", "end")
    start_meridiem, end_meridiem = match.group("start_meridiem", "end_meridiem")
    start_hours, end_hours = _range_side_hours(start), _range_side_hours(end)
    reads_as_clock = (
        start_meridiem is not None
        or end_meridiem is not None
        or start_hours > end_hours
        or start.startswith("0")
        or end.startswith("0")
        or start_hours >= 13
        or (":" in start + end and end_hours - start_hours > 3)
    )
    if not reads_as_clock:
        return _midpoint(start_hours, end_hours)
    bed = _clock_hours(start_hours, start_meridiem)
    wake = _clock_hours(end_hours, end_meridiem)
    duration = wake - bed
    if duration < 0:
        duration += _HOURS_PER_DAY  # asleep across midnight
    if start_meridiem is None and bed < 13 and duration > 12:
        duration -= 12  # "11-7" or "10:30-6:15": an evening bedtime written on a 12 h clock
    if duration == 0:
        raise AnswerError(AMBIGUOUS)
    return duration


def _range_side_hours(side: str) -> Decimal:
    if ":" in side or "h" in side:
        hours, _, minutes = side.replace("h", ":").partition(":")
        if len(minutes) != 2:
            raise AnswerError(NOT_UNDERSTOOD)
        return _hours_and_minutes(hours, minutes)
    return _hours_from_number(side)


def _clock_hours(hours: Decimal, meridiem: str | None) -> Decimal:
    """A range side as hours after midnight; 24 is midnight."""
    if meridiem is None:
        if hours > _HOURS_PER_DAY:
            raise AnswerError(OUT_OF_RANGE)
        return hours % _HOURS_PER_DAY
    if not 1 <= hours < 13:
        raise AnswerError(OUT_OF_RANGE)
    return hours % 12 + (12 if meridiem == "pm" else 0)


# --- caffeine ---------------------------------------------------------------------------------

CAFFEINE_MG_PER_DRINK: Mapping[str, int] = {
    **dict.fromkeys(
        ["coffee", "espresso", "latte", "cappuccino", "americano", "flat white", "mocha",
         "macchiato", "cortado", "cold brew", "filter coffee", "black coffee", "instant coffee",
         "iced coffee", "iced latte", "doppio", "ristretto", "lungo", "cafe", "joe", "☕"],
        MG_PER_COFFEE,
    ),
    **dict.fromkeys(
        ["tea", "black tea", "green tea", "matcha", "chai", "chai latte", "earl grey",
         "english breakfast", "iced tea", "yerba mate", "mate", "oolong", "🍵"],
        MG_PER_TEA,
    ),
    **dict.fromkeys(
        ["energy drink", "energy", "red bull", "redbull", "monster", "rockstar", "celsius",
         "energy shot", "pre workout", "preworkout"],
        MG_PER_ENERGY_DRINK,
    ),
    **dict.fromkeys(
        ["cola", "coke", "diet coke", "coke zero", "pepsi", "diet pepsi", "pepsi max",
         "dr pepper", "soda"],
        MG_PER_COLA,
    ),
    **dict.fromkeys(
        ["decaf", "decaf coffee", "decaffeinated coffee", "herbal tea", "rooibos", "chamomile",
         "peppermint tea", "mint tea", "fruit tea", "decaf tea"],
        MG_PER_DECAF,
    ),
}  # fmt: skip
# A container named without a drink: a "shot" is espresso; "2 cups" could be coffee or tea
# (asked back), "2 cans" cola or an energy drink.
_CONTAINER_DEFAULT_MG: Mapping[str, int] = {"shot": MG_PER_COFFEE}
_CUPS_OF_SOMETHING = frozenset({"cup", "mug"})
_CAFFEINE_CHOICE = re.compile(r"(?P<kind>coffee|tea|mg):(?P<amount>[0-9]{1,4}(?:\.[0-9]{1,2})?)")
CAFFEINE_CHOICE_MG: Mapping[str, int] = {"coffee": MG_PER_COFFEE, "tea": MG_PER_TEA}
NO_CAFFEINE_CHOICE = "0"


class CaffeineUnitQuestion(AnswerError):
    """A count without a drink ("21", "3 cups"): what it counts is asked, never guessed."""

    def __init__(self, amount: Decimal, *, milligrams_possible: bool) -> None:
        super().__init__(WHICH_UNIT)
        self.amount = amount
        self.choices = caffeine_unit_choices(amount, milligrams_possible=milligrams_possible)


def _plain_number(amount: Decimal) -> str:
    """Decimal without exponent or trailing zeros: 21 → "21", 1.50 → "1.5"."""
    return f"{amount.normalize():f}"


def caffeine_unit_choices(amount: Decimal, *, milligrams_possible: bool) -> tuple[str, ...]:
    """Button values for "21": cups of coffee, cups of tea, mg — those that are in range."""
    number = _plain_number(amount)
    values = [f"{kind}:{number}" for kind in CAFFEINE_CHOICE_MG]
    if milligrams_possible:
        values.append(f"mg:{number}")
    return tuple(value for value in values if caffeine_from_choice(value) is not None)


def caffeine_from_choice(value: str) -> Caffeine | None:
    """A caffeine button ("0", "coffee:2", "tea:1", "mg:21") as stored; None if not one."""
    if value == NO_CAFFEINE_CHOICE:
        return Caffeine(mg=0, servings=0.0)
    match = _CAFFEINE_CHOICE.fullmatch(value)
    if match is None:
        return None
    amount = Decimal(match["amount"])
    if match["kind"] == "mg":
        if amount != amount.to_integral_value() or not 0 < amount <= MAX_CAFFEINE_MG:
            return None
        return Caffeine(mg=int(amount), servings=None)
    mg = (amount * CAFFEINE_CHOICE_MG[match["kind"]]).to_integral_value(rounding=ROUND_HALF_UP)
    if not 0 < amount <= MAX_SERVINGS or mg > MAX_CAFFEINE_MG:
        return None
    return Caffeine(mg=int(mg), servings=float(amount))


_SERVING_MULTIPLIERS: Mapping[str, int] = {"single": 1, "double": 2, "triple": 3}
_DRINK_ADJECTIVES = re.compile(
    r"\b(?:large|small|big|medium|regular|strong|weak|tall|grande|venti|short|hot|ice cold"
    r"|caffeinated)\b"
)
_CAFFEINE_FILLERS = re.compile(
    r"\b(?:i had|had|i drank|drank|i've had|ive had|today|so far|in total|total"
    r"|of caffeine|caffeine|this morning|in the morning)\b"
)
NO_CAFFEINE_WORDS = frozenset(
    {"none", "no", "nothing", "nil", "nope", "zero", "no coffee", "no tea", "no coffee or tea",
     "not any", "none at all", "didn't", "didnt"}
)  # fmt: skip
_MILLIGRAMS = re.compile(rf"(?P<mg>{_NUMBER})\s*(?:mg|milligrams?|milligrammes?)")
_SERVING = re.compile(
    rf"(?:(?P<count>{_NUMBER})\s*x?\s*)?"
    r"(?:(?P<container>cups?|mugs?|shots?|glass(?:es)?|cans?|bottles?|servings?|pots?)\b"
    r"\s*(?:of\s+)?)?"
    r"(?P<drink>[a-z☕🍵][a-z' ]*?)?"
    rf"(?:\s*x\s*(?P<count_after>{_NUMBER}))?"
)


def parse_caffeine(text: str) -> Caffeine:
    """Caffeine today: drinks ("2 coffees", "a coffee and a tea") or milligrams ("200mg").

    A count without a drink ("2", "21", "3 cups") raises CaffeineUnitQuestion.
    """
    normal = _quantity_text(text, _CAFFEINE_FILLERS)
    if normal in NO_CAFFEINE_WORDS:
        return Caffeine(mg=0, servings=0.0)
    items = _list_items(normal)
    if len(items) == 1 and _NUMBER_ONLY.fullmatch(items[0]) and _decimal(items[0]) == 0:
        return Caffeine(mg=0, servings=0.0)
    if len(items) == 1:
        _ask_about_a_bare_count(items[0])
    total_mg = Decimal(0)
    servings = Decimal(0)
    drinks = Decimal(0)
    typed_milligrams = False
    for item in items:
        milligrams = _MILLIGRAMS.fullmatch(item)
        if milligrams:
            total_mg += _decimal(milligrams.group("mg"), thousands_separator=True)
            typed_milligrams = True
            continue
        if _NUMBER_ONLY.fullmatch(item):
            raise AnswerError(AMBIGUOUS)  # "2 coffees and 3": three what?
        count, mg_per_drink = _caffeine_serving(item)
        drinks += count
        total_mg += count * mg_per_drink
        if mg_per_drink > 0:
            servings += count
    if drinks > MAX_SERVINGS:
        raise AnswerError(OUT_OF_RANGE)
    mg = _in_range(total_mg, MAX_CAFFEINE_MG, Decimal(1))
    return Caffeine(mg=int(mg), servings=None if typed_milligrams else float(servings))


def _ask_about_a_bare_count(item: str) -> None:
    """Raise CaffeineUnitQuestion for "21" or "3 cups" (OUT_OF_RANGE when no meaning fits);
    named drinks pass."""
    question: CaffeineUnitQuestion | None = None
    if _NUMBER_ONLY.fullmatch(item):
        question = CaffeineUnitQuestion(_decimal(item), milligrams_possible=True)
    elif match := _SERVING.fullmatch(item):
        container = (match.group("container") or "").removesuffix("s")
        count = match.group("count")
        bare = not match.group("drink") and not match.group("count_after")
        if bare and count and container in _CUPS_OF_SOMETHING:
            question = CaffeineUnitQuestion(_decimal(count), milligrams_possible=False)
    if question is None:
        return
    if not question.choices:
        raise AnswerError(OUT_OF_RANGE)
    raise question


def _caffeine_serving(item: str) -> tuple[Decimal, int]:
    """(number of drinks, mg per drink) for one list item such as "2 cups of green tea"."""
    multiplier = 1
    for word, factor in _SERVING_MULTIPLIERS.items():
        if re.search(rf"\b{word}\b", item):
            multiplier *= factor
            item = re.sub(rf"\b{word}\b", " ", item)
    item = " ".join(_DRINK_ADJECTIVES.sub(" ", item).split())
    match = _SERVING.fullmatch(item)
    if not match or not item:
        raise AnswerError(NOT_UNDERSTOOD)
    count_text, count_after = match.group("count", "count_after")
    if count_text and count_after:
        raise AnswerError(NOT_UNDERSTOOD)
    count = _decimal(count_text or count_after or "1") * multiplier
    container, drink = match.group("container"), (match.group("drink") or "").strip()
    if drink:
        return count, _drink_mg(drink)
    if container:
        singular = container.removesuffix("es") if container.endswith("sses") else container
        singular = singular.removesuffix("s")
        if singular not in _CONTAINER_DEFAULT_MG:
            raise AnswerError(AMBIGUOUS)
        return count, _CONTAINER_DEFAULT_MG[singular]
    raise AnswerError(AMBIGUOUS if count_text else NOT_UNDERSTOOD)  # a count of what?


def _drink_mg(drink: str) -> int:
    for candidate in _plural_forms_removed(drink):
        if candidate in CAFFEINE_MG_PER_DRINK:
            return CAFFEINE_MG_PER_DRINK[candidate]
    raise AnswerError(NOT_UNDERSTOOD)


def _plural_forms_removed(phrase: str) -> Iterable[str]:
    """The phrase and its last word made singular: "energy drinks" -> "energy drink"."""
    yield phrase
    if phrase.endswith("es"):
        yield phrase[:-2]
    if phrase.endswith("s"):
        yield phrase[:-1]
    if phrase.endswith("i"):  # cappuccini, espressi
        yield phrase[:-1] + "o"


# --- water ------------------------------------------------------------------------------------

WATER_UNIT_LITRES: Mapping[str, Decimal] = {
    **dict.fromkeys(["l", "lt", "ltr", "ltrs", "litre", "litres", "liter", "liters"], Decimal(1)),
    **dict.fromkeys(
        ["ml", "mls", "millilitre", "millilitres", "milliliter", "milliliters"], Decimal("0.001")
    ),
    **dict.fromkeys(
        ["cl", "centilitre", "centilitres", "centiliter", "centiliters"], Decimal("0.01")
    ),
    **dict.fromkeys(["dl", "decilitre", "decilitres", "deciliter", "deciliters"], Decimal("0.1")),
    **dict.fromkeys(
        ["oz", "fl oz", "fl. oz", "floz", "ounce", "ounces", "fluid ounce", "fluid ounces"],
        LITRES_PER_US_FLUID_OUNCE,
    ),
    **dict.fromkeys(
        ["glass", "glasses", "cup", "cups", "mug", "mugs"], Decimal(str(LITRES_PER_GLASS))
    ),
    **dict.fromkeys(["bottle", "bottles"], LITRES_PER_BOTTLE),
}  # fmt: skip
# Units whose size depends on the country: re-ask rather than guess.
AMBIGUOUS_WATER_UNITS = frozenset({"pint", "pints", "gallon", "gallons", "quart", "quarts"})
# Units where "1,500" means fifteen hundred.
_SMALL_WATER_UNITS = frozenset(
    {"ml", "mls", "millilitre", "millilitres", "milliliter", "milliliters"}
)
_WATER_FILLERS = re.compile(
    r"\b(?:i drank|drank|i had|had|i've had|ive had|today|so far|in total|total|of water"
    r"|water|of h2o|h2o)\b"
)
NO_WATER_WORDS = frozenset(
    {"none", "no", "nothing", "nil", "nope", "zero", "not any", "none at all"}
)
_WATER_UNIT = r"[a-z][a-z. ]*?"
_WATER_AMOUNT = re.compile(rf"(?P<amount>{_NUMBER})\s*(?P<unit>{_WATER_UNIT})?")
_WATER_RANGE = re.compile(
    rf"(?P<low>{_NUMBER})\s*(?P<low_unit>{_WATER_UNIT})?\s*(?:-|to|or)\s*"
    rf"(?P<high>{_NUMBER})\s*(?P<unit>{_WATER_UNIT})?"
)
_BARE_LITRES_MAX = Decimal(10)
_BARE_MILLILITRES_MIN = Decimal(100)
_BARE_MILLILITRES_MAX = Decimal(10000)


def parse_water_litres(text: str) -> float:
    """Water today in litres: "1.5 l", "1500 ml", "6 glasses", "2 bottles", "64 oz", "2"."""
    normal = _quantity_text(text, _WATER_FILLERS)
    if normal in NO_WATER_WORDS:
        return 0.0
    total = sum((_water_item_litres(item) for item in _list_items(normal)), Decimal(0))
    return float(_in_range(total, MAX_WATER_LITRES, WATER_STEP_LITRES))


def _water_item_litres(item: str) -> Decimal:
    ranged = _WATER_RANGE.fullmatch(item)
    if ranged:
        unit = ranged.group("unit")
        low_unit = ranged.group("low_unit")
        if low_unit is not None and low_unit.strip() != (unit or "").strip():
            raise AnswerError(NOT_UNDERSTOOD)
        small = _is_small_water_unit(unit)
        low = _decimal(ranged.group("low"), thousands_separator=small)
        high = _decimal(ranged.group("high"), thousands_separator=small)
        return _water_litres(_midpoint(low, high), unit)
    single = _WATER_AMOUNT.fullmatch(item)
    if not single:
        raise AnswerError(NOT_UNDERSTOOD)
    unit = single.group("unit")
    amount = _decimal(single.group("amount"), thousands_separator=_is_small_water_unit(unit))
    return _water_litres(amount, unit)


def _is_small_water_unit(unit: str | None) -> bool:
    return unit is not None and unit.strip() in _SMALL_WATER_UNITS


def _water_litres(amount: Decimal, unit: str | None) -> Decimal:
    if unit is None:
        return _bare_water_litres(amount)
    name = unit.strip()
    if name in AMBIGUOUS_WATER_UNITS:
        raise AnswerError(AMBIGUOUS)
    if name not in WATER_UNIT_LITRES:
        raise AnswerError(NOT_UNDERSTOOD)
    return amount * WATER_UNIT_LITRES[name]


def _bare_water_litres(amount: Decimal) -> Decimal:
    """A number without a unit: small is litres, large is ml, in between we cannot tell."""
    if amount <= _BARE_LITRES_MAX:
        return amount
    if amount < _BARE_MILLILITRES_MIN:
        raise AnswerError(AMBIGUOUS)
    if amount > _BARE_MILLILITRES_MAX:
        raise AnswerError(OUT_OF_RANGE)
    return amount / 1000


# --- clock time -------------------------------------------------------------------------------

CLOCK_WORDS: Mapping[str, time] = {
    **dict.fromkeys(["noon", "midday", "12 noon", "lunchtime"], time(12, 0)),
    **dict.fromkeys(["midnight", "12 midnight"], time(0, 0)),
}
MERIDIEM_WORDS: Mapping[str, str] = {
    **dict.fromkeys(["am", "in the morning", "morning"], "am"),
    **dict.fromkeys(["pm", "in the afternoon", "afternoon", "in the evening", "evening"], "pm"),
}
_MERIDIEM = rf"(?P<meridiem>{'|'.join(sorted(MERIDIEM_WORDS, key=len, reverse=True))})"
_CLOCK = re.compile(
    rf"(?:at\s+)?(?P<hour>\d{{1,2}})(?:(?:\s*[:.h]\s*|\s+)(?P<minute>\d{{2}}))?"
    rf"\s*(?:h|hrs|o'?clock)?\s*{_MERIDIEM}?"
)
_COMPACT_CLOCK = re.compile(r"(?:at\s+)?(?P<hour>\d{2})(?P<minute>\d{2})\s*(?:h|hrs)?")
_PAST_OR_TO = re.compile(
    rf"(?:at\s+)?(?P<minutes>half|quarter|\d{{1,2}})(?:\s+minutes?)?\s+(?P<relation>past|to)"
    rf"\s+(?P<hour>\d{{1,2}})\s*{_MERIDIEM}?"
)
_PAST_OR_TO_MINUTES: Mapping[str, int] = {"half": 30, "quarter": 15}


def parse_clock_time(text: str) -> time:
    """A time of day: "9", "09:30", "9.30", "21:00", "9pm", "9:15 am", "noon", "half past 8"."""
    normal = _TRAILING_PUNCTUATION.sub("", normalized_text(text))
    normal = _SPELLED_NUMBER.sub(_spelled_number_value, _MERIDIEM_DOTS.sub(r"\1m", normal))
    normal = " ".join(normal.split())
    if normal in CLOCK_WORDS:
        return CLOCK_WORDS[normal]
    relative = _PAST_OR_TO.fullmatch(normal)
    if relative:
        return _relative_clock_time(relative)
    match = _CLOCK.fullmatch(normal) or _COMPACT_CLOCK.fullmatch(normal)
    if not match:
        raise AnswerError(NOT_UNDERSTOOD)
    meridiem = match.groupdict().get("meridiem")
    return _clock_time(int(match.group("hour")), int(match.group("minute") or 0), meridiem)


def _relative_clock_time(match: re.Match[str]) -> time:
    minutes_text = match.group("minutes")
    minutes = _PAST_OR_TO_MINUTES.get(minutes_text) or int(minutes_text)
    if not 1 <= minutes <= 59:
        raise AnswerError(OUT_OF_RANGE)
    hour = int(match.group("hour"))
    meridiem = match.group("meridiem")
    if match.group("relation") == "past":
        return _clock_time(hour, minutes, meridiem)
    on_the_hour = _clock_time(hour, 0, meridiem)
    total = (on_the_hour.hour * 60 - minutes) % (24 * 60)
    return time(total // 60, total % 60)


def _clock_time(hour: int, minute: int, meridiem: str | None) -> time:
    if minute > 59:
        raise AnswerError(OUT_OF_RANGE)
    if meridiem is None:
        if hour > 23:
            raise AnswerError(OUT_OF_RANGE)
        return time(hour, minute)
    if not 1 <= hour <= 12:
        raise AnswerError(OUT_OF_RANGE)
    offset = 12 if MERIDIEM_WORDS[meridiem] == "pm" else 0
    return time(hour % 12 + offset, minute)


# --- yes / no ---------------------------------------------------------------------------------

YES_PHRASES = frozenset(
    {"yes", "y", "yeah", "yea", "yep", "yup", "ya", "yas", "sure", "ok", "okay", "k", "kk",
     "alright", "all right", "of course", "please", "yes please", "go ahead", "agree",
     "i agree", "i do", "definitely", "absolutely", "certainly", "fine", "why not", "do it",
     "update", "update it", "update todays", "sure thing", "lets go", "👍", "✅", "✔", "☑", "👌",
     "🙆", "continue", "proceed", "true", "affirmative"}
)  # fmt: skip
NO_PHRASES = frozenset(
    {"no", "n", "nope", "nah", "na", "not now", "no thanks", "no thank you", "not really",
     "never", "later", "maybe later", "not today", "dont", "i dont", "do not", "cancel",
     "stop", "decline", "i decline", "disagree", "i disagree", "keep", "keep it", "no way",
     "rather not", "id rather not", "false", "👎", "❌", "✖", "🚫", "🙅", "skip"}
)  # fmt: skip
# Words that add politeness but no answer: "yes please", "no thanks".
_NEUTRAL_WORDS = frozenset({"please", "thanks", "thank", "you", "ty", "thx", "now", "i", "guess"})


def parse_yes_no(text: str) -> bool:
    """Yes (yes, y, sure, ok, 👍) or no (no, n, nope, not now, 👎); both at once is ambiguous."""
    normal = normalized_text(text)
    answers = {
        character in YES_PHRASES
        for character in normal
        if not character.isalnum() and character in YES_PHRASES | NO_PHRASES
    }
    words = _words_only(normal)
    if words in YES_PHRASES or words in NO_PHRASES:
        answers.add(words in YES_PHRASES)
    elif words:
        answers |= _yes_no_words(words.split())
    if len(answers) > 1:
        raise AnswerError(AMBIGUOUS)
    if not answers:
        raise AnswerError(NOT_UNDERSTOOD)
    return answers.pop()


def _yes_no_words(words: Iterable[str]) -> set[bool]:
    """The answers single words give; an unknown word means we did not understand."""
    answers: set[bool] = set()
    for word in words:
        if word in YES_PHRASES:
            answers.add(True)
        elif word in NO_PHRASES or word == "not":
            answers.add(False)
        elif word not in _NEUTRAL_WORDS:
            raise AnswerError(NOT_UNDERSTOOD)
    return answers
