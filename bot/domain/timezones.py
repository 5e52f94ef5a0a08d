"""Which timezone a person means, from whatever they type during onboarding.

Accepted: IANA names ("europe/berlin"), cities that end an IANA name ("New York", "São Paulo"),
a table of common cities, countries and US states that IANA names do not spell out, common
abbreviations ("CET", "PST"), UTC offsets ("UTC+2", "GMT-3", "+05:30") and the local time
right now ("14:30", "it's 9 am here"). Zone data comes from zoneinfo/tzdata; the tables here
only map everyday words to IANA names.

Fixed offsets are named "UTC" or "UTC±HH:MM" and do not follow daylight saving; the bot warns
about that, which is why local-time answers also suggest popular zones that currently show
the same time.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, available_timezones

from bot.domain.parsing import AnswerError, normalized_text, parse_clock_time

MAX_CHOICES = 5
MIN_OFFSET_MINUTES = -12 * 60
MAX_OFFSET_MINUTES = 14 * 60
OFFSET_STEP_MINUTES = 15
MINUTES_PER_DAY = 24 * 60
UTC_NAME = "UTC"


@dataclass(frozen=True)
class TimezoneChoice:
    """One timezone the person may have meant, ready to show on a button."""

    name: str  # an IANA name ("Europe/Berlin") or a fixed offset "UTC+05:30" / "UTC-03:00" / "UTC"
    label: str  # "Europe/Berlin (now 14:05)"
    fixed_offset: bool  # True when it will not follow daylight saving


# --- tables -----------------------------------------------------------------------------

_CENTRAL_EUROPE = ("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome", "Europe/Warsaw")
_EASTERN_EUROPE = (
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Kyiv",
    "Europe/Bucharest",
    "Europe/Sofia",
)
_USA = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
)

# Abbreviations are matched exactly and before anything else ("EST" is also an IANA name, but
# people who type it mean New York). Several entries offer choices where people differ.
ABBREVIATION_ZONES: Mapping[str, tuple[str, ...]] = {
    "utc": (UTC_NAME,),
    "gmt": (UTC_NAME, "Europe/London"),
    **dict.fromkeys(["cet", "cest", "mez", "mesz"], _CENTRAL_EUROPE),
    **dict.fromkeys(["eet", "eest"], _EASTERN_EUROPE),
    **dict.fromkeys(["wet", "west"], ("Europe/Lisbon", "Atlantic/Canary")),
    "bst": ("Europe/London",),
    "ist": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "msk": ("Europe/Moscow",),
    **dict.fromkeys(["est", "edt", "et", "eastern", "eastern time"], ("America/New_York",)),
    "cst": ("America/Chicago", "Asia/Shanghai"),
    **dict.fromkeys(["cdt", "ct", "central", "central time"], ("America/Chicago",)),
    "mst": ("America/Denver", "America/Phoenix"),
    **dict.fromkeys(["mdt", "mt", "mountain", "mountain time"], ("America/Denver",)),
    **dict.fromkeys(["pst", "pdt", "pt", "pacific time"], ("America/Los_Angeles",)),
    **dict.fromkeys(["akst", "akdt", "alaska time"], ("America/Anchorage",)),
    **dict.fromkeys(["hst", "hast", "hawaii time"], ("Pacific/Honolulu",)),
    **dict.fromkeys(["ast", "adt", "atlantic time"], ("America/Halifax",)),
    **dict.fromkeys(["nst", "ndt"], ("America/St_Johns",)),
    **dict.fromkeys(["aest", "aedt"], ("Australia/Sydney", "Australia/Brisbane")),
    **dict.fromkeys(["acst", "acdt"], ("Australia/Adelaide", "Australia/Darwin")),
    "awst": ("Australia/Perth",),
    "jst": ("Asia/Tokyo",),
    "kst": ("Asia/Seoul",),
    "hkt": ("Asia/Hong_Kong",),
    "sgt": ("Asia/Singapore",),
    **dict.fromkeys(["nzst", "nzdt"], ("Pacific/Auckland",)),
    "brt": ("America/Sao_Paulo",),
    "art": ("America/Argentina/Buenos_Aires",),
    "sast": ("Africa/Johannesburg",),
    "eat": ("Africa/Nairobi",),
    "wat": ("Africa/Lagos",),
    "cat": ("Africa/Maputo",),
    "pkt": ("Asia/Karachi",),
    "wib": ("Asia/Jakarta",),
    "pht": ("Asia/Manila",),
    "ict": ("Asia/Bangkok",),
}


def _places(zones: str | tuple[str, ...], *names: str) -> dict[str, tuple[str, ...]]:
    return dict.fromkeys(names, (zones,) if isinstance(zones, str) else zones)


# Countries, states and cities that no IANA name spells out. Countries spanning several zones
# offer their main ones; a country's outlying islands (Canaries, Azores) are left to city names.
PLACE_ZONES: Mapping[str, tuple[str, ...]] = {
    # countries and regions with several zones
    **_places(_USA, "usa", "us", "united states", "united states of america", "america"),
    **_places(
        (
            "America/Toronto",
            "America/Winnipeg",
            "America/Edmonton",
            "America/Vancouver",
            "America/Halifax",
        ),
        "canada",
    ),
    **_places(
        (
            "Australia/Sydney",
            "Australia/Brisbane",
            "Australia/Adelaide",
            "Australia/Darwin",
            "Australia/Perth",
        ),
        "australia",
    ),
    **_places(
        ("America/Sao_Paulo", "America/Manaus", "America/Rio_Branco", "America/Noronha"),
        "brazil",
        "brasil",
    ),
    **_places(
        (
            "Europe/Moscow",
            "Europe/Kaliningrad",
            "Asia/Yekaterinburg",
            "Asia/Novosibirsk",
            "Asia/Vladivostok",
        ),
        "russia",
    ),
    **_places(
        ("America/Mexico_City", "America/Cancun", "America/Hermosillo", "America/Tijuana"),
        "mexico",
    ),
    **_places(("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"), "indonesia"),
    **_places(("America/Santiago", "America/Punta_Arenas", "Pacific/Easter"), "chile"),
    **_places(("Asia/Tbilisi", "America/New_York"), "georgia"),  # the country or the US state
    **_places(("America/Los_Angeles", "America/New_York"), "washington"),  # state or DC
    **_places(("Europe/London", "America/Chicago"), "birmingham"),  # England or Alabama
    # countries with one zone
    **_places("Europe/Berlin", "germany", "deutschland"),
    **_places("Europe/Paris", "france"),
    **_places("Europe/Madrid", "spain", "espana"),
    **_places("Europe/Rome", "italy", "italia"),
    **_places(
        "Europe/London",
        "uk",
        "united kingdom",
        "england",
        "scotland",
        "wales",
        "britain",
        "great britain",
        "gb",
        "northern ireland",
    ),
    **_places("Europe/Dublin", "ireland", "eire", "republic of ireland"),
    **_places("Asia/Tokyo", "japan"),
    **_places("Asia/Kolkata", "india"),
    **_places("Europe/Warsaw", "poland", "polska"),
    **_places("Europe/Amsterdam", "netherlands", "the netherlands", "holland", "nederland"),
    **_places("Europe/Kyiv", "ukraine"),
    **_places("Europe/Istanbul", "turkey", "turkiye"),
    **_places("Europe/Brussels", "belgium"),
    **_places("Europe/Zurich", "switzerland", "schweiz", "suisse"),
    **_places("Europe/Vienna", "austria", "osterreich"),
    **_places("Europe/Stockholm", "sweden"),
    **_places("Europe/Oslo", "norway"),
    **_places("Europe/Copenhagen", "denmark"),
    **_places("Europe/Helsinki", "finland"),
    **_places("Europe/Athens", "greece"),
    **_places("Europe/Lisbon", "portugal"),
    **_places("Europe/Prague", "czechia", "czech republic"),
    **_places("Europe/Bratislava", "slovakia"),
    **_places("Europe/Budapest", "hungary"),
    **_places("Europe/Bucharest", "romania"),
    **_places("Europe/Sofia", "bulgaria"),
    **_places("Europe/Belgrade", "serbia"),
    **_places("Europe/Zagreb", "croatia"),
    **_places("Europe/Ljubljana", "slovenia"),
    **_places("Europe/Vilnius", "lithuania"),
    **_places("Europe/Riga", "latvia"),
    **_places("Europe/Tallinn", "estonia"),
    **_places("Atlantic/Reykjavik", "iceland"),
    **_places("Europe/Minsk", "belarus"),
    **_places("Asia/Jerusalem", "israel"),
    **_places("Africa/Cairo", "egypt"),
    **_places("Africa/Johannesburg", "south africa"),
    **_places("Africa/Lagos", "nigeria"),
    **_places("Africa/Nairobi", "kenya"),
    **_places("Africa/Casablanca", "morocco"),
    **_places("Asia/Shanghai", "china"),
    **_places("Asia/Seoul", "south korea", "korea"),
    **_places("Asia/Manila", "philippines"),
    **_places("Asia/Ho_Chi_Minh", "vietnam"),
    **_places("Asia/Bangkok", "thailand"),
    **_places("Asia/Karachi", "pakistan"),
    **_places("Asia/Dhaka", "bangladesh"),
    **_places("Asia/Kathmandu", "nepal"),
    **_places("Asia/Colombo", "sri lanka"),
    **_places("Asia/Taipei", "taiwan"),
    **_places("Asia/Kuala_Lumpur", "malaysia"),
    **_places("Asia/Dubai", "uae", "united arab emirates", "emirates"),
    **_places("Asia/Riyadh", "saudi arabia"),
    **_places("Asia/Tehran", "iran"),
    **_places("Pacific/Auckland", "new zealand", "nz", "aotearoa"),
    **_places("America/Argentina/Buenos_Aires", "argentina"),
    **_places("America/Bogota", "colombia"),
    **_places("America/Lima", "peru"),
    **_places("America/Caracas", "venezuela"),
    # US states, Canadian provinces and Australian states (the main zone of each)
    **_places("America/Los_Angeles", "california", "oregon", "nevada", "washington state"),
    **_places("America/Phoenix", "arizona"),
    **_places("America/Denver", "colorado", "utah", "new mexico"),
    **_places("America/Chicago", "texas", "illinois", "minnesota", "alabama", "louisiana"),
    **_places(
        "America/New_York",
        "florida",
        "massachusetts",
        "pennsylvania",
        "ohio",
        "new jersey",
        "virginia",
        "north carolina",
        "washington dc",
        "dc",
    ),
    **_places("America/Detroit", "michigan"),
    **_places("Pacific/Honolulu", "hawaii"),
    **_places("America/Anchorage", "alaska"),
    **_places("America/Toronto", "ontario", "quebec"),
    **_places("America/Vancouver", "british columbia"),
    **_places("America/Edmonton", "alberta"),
    **_places("Australia/Sydney", "new south wales", "nsw"),
    # cities that are not the last part of an IANA name
    **_places(
        "America/Los_Angeles",
        "san francisco",
        "sf",
        "seattle",
        "portland",
        "san diego",
        "las vegas",
        "sacramento",
        "san jose",
        "la",
    ),
    **_places(
        "America/New_York",
        "boston",
        "philadelphia",
        "miami",
        "atlanta",
        "orlando",
        "pittsburgh",
        "charlotte",
        "baltimore",
        "nyc",
    ),
    **_places(
        "America/Chicago",
        "dallas",
        "houston",
        "austin",
        "san antonio",
        "minneapolis",
        "new orleans",
        "st louis",
        "saint louis",
        "kansas city",
        "nashville",
        "milwaukee",
    ),
    **_places("America/Denver", "salt lake city", "albuquerque"),
    **_places("America/Toronto", "montreal", "ottawa", "quebec city"),
    **_places("America/Edmonton", "calgary"),
    **_places(
        "Europe/Berlin",
        "munich",
        "munchen",
        "hamburg",
        "frankfurt",
        "cologne",
        "koln",
        "stuttgart",
        "dusseldorf",
        "leipzig",
        "dresden",
        "hanover",
        "hannover",
        "nuremberg",
        "bonn",
    ),
    **_places(
        "Europe/London",
        "manchester",
        "edinburgh",
        "glasgow",
        "liverpool",
        "leeds",
        "bristol",
        "cardiff",
        "belfast",
        "oxford",
        "sheffield",
        "nottingham",
    ),
    **_places("Europe/Madrid", "barcelona", "valencia", "seville", "sevilla", "malaga", "bilbao"),
    **_places("Europe/Rome", "milan", "milano", "naples", "florence", "venice", "turin", "bologna"),
    **_places("Europe/Paris", "lyon", "marseille", "nice", "toulouse", "bordeaux", "lille"),
    **_places("Europe/Lisbon", "porto"),
    **_places("Europe/Warsaw", "krakow", "cracow", "wroclaw", "gdansk", "poznan", "lodz"),
    **_places("Europe/Amsterdam", "rotterdam", "the hague", "utrecht", "eindhoven"),
    **_places("Europe/Zurich", "geneva", "basel", "bern", "lausanne"),
    **_places("Europe/Brussels", "antwerp", "ghent"),
    **_places("Europe/Vienna", "salzburg", "graz"),
    **_places("Europe/Stockholm", "gothenburg", "malmo"),
    **_places("Europe/Oslo", "bergen"),
    **_places("Europe/Athens", "thessaloniki"),
    **_places("Europe/Moscow", "st petersburg", "saint petersburg"),
    **_places("Europe/Kyiv", "kharkiv", "odesa", "odessa", "lviv", "dnipro"),
    **_places("Europe/Istanbul", "ankara", "izmir", "antalya"),
    **_places(
        "Asia/Kolkata",
        "mumbai",
        "bombay",
        "delhi",
        "new delhi",
        "bangalore",
        "bengaluru",
        "chennai",
        "madras",
        "hyderabad",
        "pune",
        "ahmedabad",
        "goa",
    ),
    **_places(
        "Asia/Shanghai",
        "beijing",
        "peking",
        "guangzhou",
        "shenzhen",
        "chengdu",
        "hangzhou",
        "wuhan",
        "xian",
        "nanjing",
    ),
    **_places("Asia/Tokyo", "osaka", "kyoto", "yokohama", "nagoya", "sapporo", "fukuoka"),
    **_places("Asia/Seoul", "busan"),
    **_places("Asia/Ho_Chi_Minh", "hanoi", "saigon"),
    **_places("Asia/Karachi", "islamabad", "lahore"),
    **_places("Asia/Riyadh", "jeddah", "mecca"),
    **_places("Asia/Jerusalem", "tel aviv", "haifa"),
    **_places("Asia/Dubai", "abu dhabi", "sharjah"),
    **_places("Australia/Sydney", "canberra"),
    **_places("Australia/Brisbane", "gold coast", "cairns"),
    **_places("Pacific/Auckland", "wellington", "christchurch"),
    **_places(
        "America/Sao_Paulo",
        "rio",
        "rio de janeiro",
        "brasilia",
        "belo horizonte",
        "curitiba",
        "porto alegre",
    ),
    **_places("America/Mexico_City", "guadalajara", "monterrey"),
    **_places("America/Bogota", "medellin", "cali"),
    **_places("Africa/Johannesburg", "cape town", "durban", "pretoria"),
    **_places("Africa/Lagos", "abuja"),
    **_places("Africa/Casablanca", "marrakech", "rabat"),
}

# Suggested next to a fixed offset worked out from the local time, in this order, when they
# show the same time right now: they also follow daylight saving.
POPULAR_ZONES: tuple[str, ...] = (
    "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome",
    "Europe/Dublin", "Europe/Lisbon", "Europe/Warsaw", "Europe/Athens", "Europe/Kyiv",
    "Europe/Helsinki", "Europe/Istanbul", "Europe/Moscow", "America/New_York",
    "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Toronto", "America/Anchorage", "Pacific/Honolulu", "America/Halifax",
    "America/St_Johns", "America/Mexico_City", "America/Bogota", "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires", "America/Santiago", "America/Noronha", "Atlantic/Azores",
    "Atlantic/Cape_Verde", "Africa/Lagos", "Africa/Johannesburg", "Africa/Cairo",
    "Africa/Nairobi", "Asia/Dubai", "Asia/Tehran", "Asia/Kabul", "Asia/Karachi", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Dhaka", "Asia/Yangon", "Asia/Bangkok", "Asia/Jakarta",
    "Asia/Shanghai", "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul", "Australia/Perth",
    "Australia/Eucla", "Australia/Darwin", "Australia/Adelaide", "Australia/Brisbane",
    "Australia/Sydney", "Pacific/Noumea", "Pacific/Auckland", "Pacific/Fiji", "Pacific/Chatham",
    "Pacific/Tongatapu", "Pacific/Kiritimati", "Pacific/Pago_Pago",
)  # fmt: skip

# IANA areas whose last part is a real place, so "Berlin" may stand for "Europe/Berlin".
_GEOGRAPHIC_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# Names in the tz database that are really fixed offsets; shown as "UTC±HH:MM" instead.
_FIXED_ALIASES = frozenset(
    {"UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu"}
)
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
# Instants at which two names must agree to count as the same zone (links such as
# America/Buenos_Aires and America/Argentina/Buenos_Aires).
_BEHAVIOUR_SAMPLES = tuple(
    datetime(year, month, 15, tzinfo=UTC) for year in (2000, 2010, 2020, 2030) for month in (1, 7)
)

# --- names ------------------------------------------------------------------------------

_FIXED_NAME = re.compile(r"UTC(?P<sign>[+-])(?P<hours>\d{2}):(?P<minutes>\d{2})")


@functools.cache
def _zone_names() -> frozenset[str]:
    """Every name zoneinfo can load, minus the system's non-zone files."""
    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


def zone_for(name: str) -> tzinfo:
    """The tzinfo for a stored name: ZoneInfo for IANA names, a fixed timezone for "UTC±HH:MM"."""
    if name == UTC_NAME:
        return UTC
    fixed = _FIXED_NAME.fullmatch(name)
    if fixed:
        minutes = _offset_minutes(fixed.group("sign"), fixed.group("hours"), fixed.group("minutes"))
        if minutes is None or minutes == 0:
            raise ValueError(f"not a valid UTC offset: {name!r}")
        return timezone(timedelta(minutes=minutes), name)
    if name not in _zone_names():
        raise ValueError(f"unknown timezone: {name!r}")
    return ZoneInfo(name)


def is_valid_zone_name(name: str) -> bool:
    """Whether zone_for accepts the name, i.e. it is safe to store."""
    try:
        zone_for(name)
    except ValueError:
        return False
    return True


def _offset_minutes(sign: str, hours: str, minutes: str | None) -> int | None:
    """Signed minutes for a UTC offset in the real-world range and 15-minute steps, else None."""
    magnitude = int(hours) * 60 + int(minutes or 0)
    if int(minutes or 0) >= 60 or magnitude % OFFSET_STEP_MINUTES:
        return None
    signed = -magnitude if sign == "-" else magnitude
    if not MIN_OFFSET_MINUTES <= signed <= MAX_OFFSET_MINUTES:
        return None
    return signed


def _fixed_name(minutes: int) -> str:
    if minutes == 0:
        return UTC_NAME
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


# --- resolving --------------------------------------------------------------------------


def resolve_timezone(text: str, now_utc: datetime) -> list[TimezoneChoice]:
    """What the person may mean: [] when nothing matches, one when clear, up to 5 to choose.

    A naive now_utc is taken to be UTC.
    """
    try:
        normal = normalized_text(text)
    except AnswerError:
        return []
    now = now_utc.replace(tzinfo=UTC) if now_utc.tzinfo is None else now_utc.astimezone(UTC)
    names = _fixed_offset_names(normal) or _place_names(normal) or _local_time_names(normal, now)
    return [_choice(name, now) for name in names[:MAX_CHOICES]]


def timezone_setting_name(text: str) -> str:
    """The stored name for a configured timezone, read as the chat reads a typed answer.

    A setting has nobody to pick from choices and no "now" to compare a clock time with, so
    it takes a zone name, a place or an offset that means exactly one zone; anything else is
    a ValueError that says what to write instead.
    """
    stripped = text.strip()
    if is_valid_zone_name(stripped):
        return stripped
    try:
        normal = normalized_text(stripped)
    except AnswerError:
        normal = ""
    names = (_fixed_offset_names(normal) or _place_names(normal)) if normal else []
    if len(names) == 1:
        return names[0]
    if names:
        raise ValueError(
            f"timezone {text!r} could mean {', '.join(names[:MAX_CHOICES])}: set one of those"
        )
    raise ValueError(
        f"unknown timezone {text!r}: use an IANA name such as Europe/Berlin, a city such as "
        "Berlin, or an offset such as UTC+2"
    )


def _choice(name: str, now: datetime) -> TimezoneChoice:
    local = now.astimezone(zone_for(name))
    fixed = name == UTC_NAME or _FIXED_NAME.fullmatch(name) is not None
    return TimezoneChoice(name=name, label=f"{name} (now {local:%H:%M})", fixed_offset=fixed)


_OFFSET = re.compile(
    r"(?:(?:utc|gmt)\s*)?(?P<sign>[+-])\s*(?P<hours>\d{1,2})"
    r"(?:\s*[:.h]?\s*(?P<minutes>\d{2}))?\s*h?"
)
_ZERO_OFFSET = re.compile(r"(?:utc|gmt)\s*[+-]?\s*0{1,2}(?::?00)?")


def _fixed_offset_names(normal: str) -> list[str]:
    """A typed UTC offset such as "UTC+2", "GMT-3", "+05:30" or "utc +1"."""
    if _ZERO_OFFSET.fullmatch(normal):
        return [UTC_NAME]
    match = _OFFSET.fullmatch(normal)
    if not match:
        return []
    minutes = _offset_minutes(*match.group("sign", "hours", "minutes"))
    return [] if minutes is None else [_fixed_name(minutes)]


_PLACE_FILLERS = re.compile(
    r"^(?:i'?m in|i am in|i live in|living in|based in|in|near|close to|my time ?zone is"
    r"|time ?zone|tz)\s+|\s+(?:time|time ?zone)$"
)


def _place_key(text: str) -> str:
    """Lookup form of a place: casefolded, no accents, "_"/"-" as spaces, no dots or quotes."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(character for character in decomposed if not unicodedata.combining(character))
    plain = re.sub(r"[_\-]", " ", re.sub(r"[.'’]", "", plain))
    plain = re.sub(r"\s*/\s*", "/", plain)
    return " ".join(plain.split())


def _place_names(normal: str) -> list[str]:
    """Zones for a place name, trying "Berlin, Germany" part by part."""
    key = _place_key(normal)
    for candidate in (key, _place_key(_PLACE_FILLERS.sub("", key))):
        found = _names_for_place(candidate)
        if found:
            return found
    parts = [_names_for_place(part.strip()) for part in key.split(",")]
    matched = [names for names in parts if names]
    if len(parts) < 2 or not matched:
        return []
    shared = [name for name in matched[0] if all(name in names for names in matched[1:])]
    return shared or matched[0]


def _names_for_place(key: str) -> list[str]:
    if not key:
        return []
    if key in ABBREVIATION_ZONES:
        return list(ABBREVIATION_ZONES[key])
    chosen = list(PLACE_ZONES.get(key, ()))
    by_full_name, by_city = _iana_index()
    exact = by_full_name.get(key)
    found_in_tz_database = ([exact] if exact else []) + list(by_city.get(key, ()))
    for name in found_in_tz_database:
        shown = _shown_name(name)
        if not any(_same_behaviour(shown, earlier) for earlier in chosen):
            chosen.append(shown)
    return [name for name in chosen if is_valid_zone_name(name)]


@functools.cache
def _iana_index() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Lookup keys for full IANA names, and for their last part (the city) in real places."""
    by_full_name = {_place_key(name): name for name in _zone_names()}
    by_city: dict[str, list[str]] = {}
    for name in _zone_names():
        area, _, rest = name.partition("/")
        if area in _GEOGRAPHIC_AREAS and rest:
            by_city.setdefault(_place_key(name.rsplit("/", 1)[1]), []).append(name)
    # Deeper names are the current ones: America/Argentina/Buenos_Aires over its old link.
    ordered = {
        city: tuple(sorted(names, key=lambda name: (-name.count("/"), name)))
        for city, names in by_city.items()
    }
    return by_full_name, ordered


def _shown_name(name: str) -> str:
    """Fixed-offset tz names ("Etc/GMT+5", "Zulu") as "UTC-05:00"; others unchanged."""
    if name.startswith("Etc/") or name in _FIXED_ALIASES:
        offset = ZoneInfo(name).utcoffset(_BEHAVIOUR_SAMPLES[0]) or timedelta(0)
        return _fixed_name(int(offset.total_seconds() // 60))
    return name


@functools.cache
def _same_behaviour(first: str, second: str) -> bool:
    """Whether two names give the same offsets, so offering both would only confuse."""
    if first == second:
        return True
    if not (is_valid_zone_name(first) and is_valid_zone_name(second)):
        return False
    zones = zone_for(first), zone_for(second)
    return all(zones[0].utcoffset(at) == zones[1].utcoffset(at) for at in _BEHAVIOUR_SAMPLES)


_LOCAL_TIME_FILLERS = re.compile(
    r"\b(?:it'?s|it is|here|right now|now|currently|at the moment|for me|local time|my time is"
    r"|my time|the time is|time is|my clock says|clock says|where i am|where i live|over here)\b"
)
_CLOCK_LIKE = re.compile(
    r"\d\s*[:.h]\s*\d|\d\s*(?:am|pm|a\.m|p\.m|h)\b|\bnoon\b|\bmidnight\b|o'?clock|\bpast\b"
)


def _local_time_names(normal: str, now: datetime) -> list[str]:
    """Offsets that make now_utc show the typed local time, then zones showing it too."""
    stripped, fillers = _LOCAL_TIME_FILLERS.subn(" ", normal)
    stripped = " ".join(stripped.split()).strip(" ,:;!")
    if not stripped or not (fillers or _CLOCK_LIKE.search(stripped)):
        return []  # a bare "9" is as likely an offset as a time: ask again instead
    try:
        local = parse_clock_time(stripped)
    except AnswerError:
        return []
    offsets = _offsets_showing(local, now)
    names = [_fixed_name(minutes) for minutes in offsets]
    wanted = {timedelta(minutes=minutes) for minutes in offsets}
    names += [
        zone for zone in POPULAR_ZONES if now.astimezone(ZoneInfo(zone)).utcoffset() in wanted
    ]
    return names


def _offsets_showing(local: time, now: datetime) -> list[int]:
    """UTC offsets (minutes, 15-minute steps) at which it is `local` o'clock at `now`.

    Offsets from +12:00 to +14:00 have a twin a day earlier (-12:00 to -10:00); both are
    returned, the smaller one first.
    """
    now_minutes = now.hour * 60 + now.minute + (now.second + now.microsecond / 1e6) / 60
    difference = (local.hour * 60 + local.minute - now_minutes) % MINUTES_PER_DAY
    step = OFFSET_STEP_MINUTES
    rounded = int((difference + step / 2) // step) * step % MINUTES_PER_DAY
    candidates = (rounded, rounded - MINUTES_PER_DAY)
    valid = [m for m in candidates if MIN_OFFSET_MINUTES <= m <= MAX_OFFSET_MINUTES]
    return sorted(valid, key=lambda minutes: (abs(minutes), minutes < 0))
