"""The vocabulary of a daily check-in: what is asked and the units answers are stored in."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """How much twitching today; ordered so that comparisons mean "worse than"."""

    NONE = 0
    MILD = 1
    MODERATE = 2
    SEVERE = 3


class Location(enum.StrEnum):
    """Body areas a person can tick; stored by value, so values never change."""

    EYELID_FACE = "eyelid_face"
    ARMS_HANDS = "arms_hands"
    LEGS_FEET = "legs_feet"
    TORSO = "torso"
    MANY = "many"


# Typical caffeine per serving, used when a person counts drinks instead of milligrams:
# ~95 mg in a cup (240 ml) of brewed coffee, ~47 mg in a cup of black tea, ~80 mg in a 250 ml
# energy drink (the figures the FDA and EFSA use; content/sources.yaml, caffeine_400mg).
MG_PER_COFFEE = 95
MG_PER_TEA = 47
MG_PER_ENERGY_DRINK = 80
# The one "a lot of caffeine" threshold: the much_caffeine rule (content/rules.yaml, checked
# by the content pack) and /insights both use it. About 400 mg a day is the FDA/EFSA amount
# not generally linked to harm in healthy adults; 300 mg — more than three cups of coffee —
# is noticed before that ceiling is reached.
HIGH_CAFFEINE_MG = 300

# Accepted ranges; anything outside is re-asked, never stored.
MAX_SLEEP_HOURS = 24.0
MAX_CAFFEINE_MG = 2000
MAX_WATER_LITRES = 10.0
LITRES_PER_GLASS = 0.25


@dataclass(frozen=True)
class Caffeine:
    """Caffeine today in milligrams, with the servings count when the person gave one."""

    mg: int
    servings: float | None = None


@dataclass(frozen=True)
class CheckinAnswers:
    """A complete day's answers in storage units."""

    severity: Severity
    locations: frozenset[Location] = field(default_factory=frozenset)
    sleep_hours: float = 0.0
    caffeine: Caffeine = field(default_factory=lambda: Caffeine(mg=0))
    water_litres: float = 0.0
