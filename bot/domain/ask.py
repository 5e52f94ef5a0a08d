"""Plain-word questions answered from the content pack.

Ranking is BM25 (rank_bm25's BM25Okapi) over each snippet's title, body, try-this line, topic
labels and keywords. Text on both sides goes through the same light normalisation: casefold,
punctuation stripped, a small stop-word list, everyday synonyms mapped onto the pack's words
("coffee" also counts as "caffeine", "dehydrated" as "water" and "hydration"), and a crude
suffix stemmer so "cramps", "cramping" and "cramp" meet.

BM25 scores alone do not separate "what's the weather?" from a real question well: a single
rare word shared with a snippet ("hot weather") scores high. So a question is answered only
when it also uses at least one of the pack's topic words (topic labels and keywords from
topics.yaml, after the same normalisation) and the best score reaches MIN_SCORE; both were
checked against tests/unit/ask_cases.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rank_bm25 import BM25Okapi

if TYPE_CHECKING:
    from bot.contentpack import ContentPack, Snippet

# Below this BM25 score the best match is too weak to present as an answer. On the question
# test set the weakest in-scope best score is about 2.5. The topic-word gate turns away every
# out-of-scope question in the set; this floor is for a lone, weakly matching topic word.
MIN_SCORE = 1.5
# A second snippet is added only when it is nearly as relevant as the first.
SECOND_RESULT_RATIO = 0.6
# Title and keywords say what a snippet is about more densely than its body.
TITLE_WEIGHT = 2
KEYWORD_WEIGHT = 2

# Common words that carry no topic; kept as text so the list stays readable.
_STOPWORD_TEXT = """
    a about above after again all also am an and any anything are as at be because been
    being but by can could did do does doing done during each either else for from get gets
    getting got had has have having he her here hers him his how i if in into is it its
    itself just let me might mine more most much must my myself no nor not now of off on
    once only or other our ours out over own really s same shall she should so some
    something such t than that the their them then there these they thing things this those
    though through to too under until up us very was we were what whats when where whether
    which while who whom why will with would you your yours yourself ok okay please thanks
    thank hi hello hey tell know want need like lot lots bit kind sort way stuff im dont
    doesnt cause causes causing caused help helps make makes making bad good ever every many
    often feel feeling
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Everyday words -> the words the pack uses. Applied before stemming, added to the token.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "coffee": ("caffeine",),
    "coffees": ("caffeine",),
    "espresso": ("caffeine", "coffee"),
    "latte": ("caffeine", "coffee"),
    "cappuccino": ("caffeine", "coffee"),
    "tea": ("caffeine",),
    "cola": ("caffeine",),
    "redbull": ("caffeine", "energy"),
    "caffeinated": ("caffeine",),
    "dehydration": ("water", "hydration"),
    "dehydrated": ("water", "hydration"),
    "thirsty": ("water", "hydration"),
    "hydrated": ("water", "hydration"),
    "hydrate": ("water", "hydration"),
    "fluids": ("water",),
    "fluid": ("water",),
    "salt": ("sodium",),
    "salty": ("sodium",),
    "electrolyte": ("electrolytes",),
    "smoking": ("nicotine",),
    "smoke": ("nicotine",),
    "cigarette": ("nicotine",),
    "cigarettes": ("nicotine",),
    "vape": ("nicotine",),
    "vaping": ("nicotine",),
    "booze": ("alcohol",),
    "beer": ("alcohol",),
    "wine": ("alcohol",),
    "tired": ("sleep", "tiredness"),
    "exhausted": ("sleep", "tiredness"),
    "fatigue": ("tiredness",),
    "insomnia": ("sleep",),
    "slept": ("sleep",),
    "nap": ("sleep",),
    "workout": ("exercise",),
    "workouts": ("exercise",),
    "gym": ("exercise",),
    "running": ("exercise",),
    "run": ("exercise",),
    "training": ("exercise",),
    "sport": ("exercise",),
    "sports": ("exercise",),
    "lifting": ("exercise",),
    "medication": ("medicines",),
    "medications": ("medicines",),
    "meds": ("medicines",),
    "drug": ("medicines",),
    "drugs": ("medicines",),
    "prescription": ("medicines",),
    "steroids": ("corticosteroids",),
    "prednisone": ("corticosteroids",),
    "pills": ("supplements",),
    "tablets": ("supplements",),
    "vitamins": ("vitamin",),
    "gp": ("doctor",),
    "physician": ("doctor",),
    "neurologist": ("doctor", "neurological"),
    "bloodwork": ("blood", "test"),
    "labs": ("blood", "test"),
    "eat": ("food", "foods"),
    "eating": ("food", "foods"),
    "diet": ("food",),
    "anxious": ("anxiety",),
    "worried": ("worry", "anxiety"),
    "worrying": ("worry", "anxiety"),
    "nervous": ("anxiety",),
    "panic": ("anxiety",),
    "stressed": ("stress",),
    "spasm": ("cramp",),
    "spasms": ("cramp",),
    "twitchy": ("twitch",),
    "fasciculation": ("twitch",),
    "fasciculations": ("twitch",),
    "cobalamin": ("b12",),
    "thiamine": ("b1",),
    "pyridoxine": ("b6",),
    "als": ("neurological", "serious"),
    "mnd": ("neurological", "serious"),
    "dangerous": ("serious", "harmless"),
    "normal": ("harmless", "common"),
}
# "mg" is the symbol for magnesium, unless it follows a number (then it means milligrams).
_MG_AS_MAGNESIUM = ("magnesium",)

_TOKEN = re.compile(r"[a-z0-9]+")
_B_VITAMIN = re.compile(r"\bb[\s-]+(1|6|12)\b")
_VITAMIN_D = re.compile(r"\bvit(?:amin)?[\s-]*d\b")
_QUESTION_START = re.compile(
    r"^(?:what|what's|whats|why|how|how's|when|where|which|who|whose|can|could|does|do|did|"
    r"is|are|was|were|should|would|will|may|might|any|is it|tell me|explain|i wonder|"
    r"wondering)\b"
)


def _stem(token: str) -> str:
    """Crude suffix stripping: enough to meet singular/plural and -ing/-ed forms."""
    if token.isdigit() or len(token) <= 3:
        return token
    if token.endswith("ies") and len(token) > 4:
        token = token[:-3] + "y"
    elif token.endswith(("sses", "ches", "shes", "xes")):
        token = token[:-2]
    elif token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    for suffix in ("ing", "ed"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            token = token[: -len(suffix)]
            if len(token) > 2 and token[-1] == token[-2] and token[-1] not in "lsz":
                token = token[:-1]
            break
    if token.endswith("e") and len(token) > 4:
        token = token[:-1]
    return token


def _words(text: str) -> list[str]:
    text = text.casefold().replace("’", "'").replace("'", "")
    text = _B_VITAMIN.sub(r"b\1", text)
    text = _VITAMIN_D.sub("vitamin d", text)
    return _TOKEN.findall(text)


def normalise(text: str) -> list[str]:
    """Tokens for BM25: lowercase words minus stop words, plus synonyms, stemmed."""
    tokens: list[str] = []
    previous = ""
    for word in _words(text):
        if word == "mg":
            if not previous.isdigit():
                tokens.extend(_MG_AS_MAGNESIUM)
        elif word not in _STOPWORDS:
            tokens.append(word)
            tokens.extend(_SYNONYMS.get(word, ()))
        previous = word
    return [_stem(token) for token in tokens]


def _repeat(tokens: Sequence[str], times: int) -> list[str]:
    return [token for _ in range(times) for token in tokens]


def _document(pack: ContentPack, snippet: Snippet) -> list[str]:
    """What a snippet is searchable by: its own text plus its topics' labels and keywords."""
    topic_words: list[str] = []
    for topic_id in snippet.topics:
        topic = pack.topic(topic_id)
        topic_words += normalise(topic.label) + normalise(" ".join(topic.keywords))
    return [
        *_repeat(normalise(snippet.title), TITLE_WEIGHT),
        *normalise(snippet.body),
        *normalise(snippet.try_this or ""),
        *topic_words,
        *_repeat(normalise(" ".join(snippet.keywords)), KEYWORD_WEIGHT),
    ]


@dataclass(frozen=True)
class Answer:
    """The best matching snippets for a question, best first, and the best one's score."""

    snippets: tuple[Snippet, ...]
    score: float


class QuestionIndex:
    """A BM25 index over one content pack; build once per pack version."""

    def __init__(self, pack: ContentPack) -> None:
        self._snippets = pack.snippets
        self._bm25 = BM25Okapi([_document(pack, snippet) for snippet in pack.snippets])
        self._topic_words = frozenset(
            token
            for topic in pack.topics
            for token in normalise(" ".join((topic.label, *topic.keywords)))
        )

    def is_on_topic(self, question: str) -> bool:
        """Whether the question uses at least one of the pack's topic words."""
        return not self._topic_words.isdisjoint(normalise(question))

    def ranked(self, question: str) -> list[tuple[Snippet, float]]:
        """All snippets with their scores, best first (ties keep pack order)."""
        tokens = normalise(question)
        if not tokens:
            return [(snippet, 0.0) for snippet in self._snippets]
        scores: Iterable[float] = self._bm25.get_scores(tokens)
        pairs = list(zip(self._snippets, (float(score) for score in scores), strict=True))
        return sorted(pairs, key=lambda pair: -pair[1])

    def ask(self, question: str, *, limit: int = 2) -> Answer | None:
        """Up to `limit` snippets answering the question, or None for "I don't have that one"."""
        if limit <= 0 or not self.is_on_topic(question):
            return None
        ranked = self.ranked(question)
        if not ranked or ranked[0][1] < MIN_SCORE:
            return None
        best = ranked[0][1]
        chosen = [ranked[0][0]]
        chosen += [s for s, score in ranked[1:limit] if score >= best * SECOND_RESULT_RATIO]
        return Answer(snippets=tuple(chosen), score=best)


def looks_like_question(text: str) -> bool:
    """Whether a free message reads as a question worth answering from the content.

    A question mark with at least two words, or a question opening ("what", "can", "is",
    "tell me" ...) with at least three words. Short replies ("ok", "thanks", "6 hours") are not.
    """
    stripped = text.strip()
    if not stripped or stripped.startswith("/"):
        return False
    word_count = len(_words(stripped))
    if "?" in stripped:
        return word_count >= 2
    opening = stripped.casefold().replace("’", "'")
    return word_count >= 3 and _QUESTION_START.match(opening) is not None


# Words that, in a person's own message, point at a topic a rule can react to.
_MENTION_PATTERNS: dict[str, re.Pattern[str]] = {
    topic: re.compile(pattern)
    for topic, pattern in {
        "cramps": r"\b(?:cramp\w*|charley horses?|spasm\w*)\b",
        "stress": r"\b(?:stress\w*|anxi\w+|worr\w+|panic\w*|nervous|overwhelmed|tense)\b",
        "exercise": (
            r"\b(?:exercis\w*|work(?:ed|ing)? ?outs?|gym|running|ran|jog\w*|training|trained|"
            r"lifting|cycling|hik\w+|football|tennis|marathon)\b"
        ),
        "medicines": (
            r"\b(?:medic\w+|meds?|pills?|prescri\w+|inhalers?|steroids?|corticosteroids?|"
            r"diuretics?|antibiotics?|omeprazole|prednisone)\b"
        ),
        "stimulants": (
            r"\b(?:smok\w*|cigarettes?|vap(?:e|es|ed|ing)|nicotine|alcohol|beers?|wine|"
            r"drunk|hangover|hungover)\b"
        ),
        "sleep": r"\b(?:insomnia|slept|sleep\w*|tired|exhausted)\b",
        "hydration": r"\b(?:dehydrat\w*|thirsty|sweat\w*)\b",
    }.items()
}
_NEGATION_TEXT = """
    no not never without none nor neither zero dont didnt doesnt isnt wasnt havent hasnt cant
    couldnt
"""
_NEGATIONS = frozenset(_NEGATION_TEXT.split())
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n]|\bbut\b|\bthough\b|\balthough\b")
_NEGATION_WINDOW = 3


def topics_mentioned(text: str) -> frozenset[str]:
    """Topics a person's own words bring up, ignoring negated ones ("no cramps today")."""
    found: set[str] = set()
    lowered = text.casefold().replace("’", "'").replace("'", "")
    for clause in _CLAUSE_BREAK.split(lowered):
        for topic, pattern in _MENTION_PATTERNS.items():
            for match in pattern.finditer(clause):
                before = _TOKEN.findall(clause[: match.start()])[-_NEGATION_WINDOW:]
                if not _NEGATIONS.intersection(before):
                    found.add(topic)
                    break
    return frozenset(found)
