"""Plain-word questions answered from the content pack.

Ranking is BM25 (rank_bm25's BM25Okapi) over each snippet's title, body, try-this line, topic
labels and keywords. Text on both sides goes through the same light normalisation: casefold,
punctuation stripped, a small stop-word list and a crude suffix stemmer so "cramps", "cramping"
and "cramp" meet. Questions are then widened with the pack's synonym table
(content/synonyms.yaml): everyday words and phrases count as the pack's own words as well
("a latte" also says caffeine and coffee, "pins and needles" tingling and numbness). The table
is applied to questions only; snippets keep the words they were written with.

BM25 scores alone do not separate "what's the weather?" from a real question well: a single
rare word shared with a snippet ("hot weather") scores high. So a question is answered only
when it also uses at least one of the pack's topic words (topic labels and keywords from
topics.yaml, after the same normalisation) and the best score reaches a floor; both were
checked against tests/unit/ask_cases.yaml.

Whether a free message is a question at all is read from more than a question mark
(`read_message`): question words anywhere, requests ("pls", "tell me about"), and bare topic
phrases ("b12 stuff", "booze and twitching"). A message that a check-in question would accept
("2 coffees", "mild", "6 hours") is never read as a question, and a bare phrase or a statement
is answered only when the content matches it well (a higher score floor), so "good morning" or
"I slept badly" get the usual pointer instead of a snippet.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rank_bm25 import BM25Okapi

from bot.domain import parsing

if TYPE_CHECKING:
    from bot.contentpack import ContentPack, Snippet

# Below this BM25 score the best match is too weak to present as an answer. On the question
# test set the weakest in-scope best score is about 2.5. The topic-word gate turns away every
# out-of-scope question in the set; this floor is for a lone, weakly matching topic word.
MIN_SCORE = 1.5
# A message that may or may not be a question (a bare phrase, a statement about twitching) is
# answered only above this score: a clear match, not a lone shared word.
MAYBE_MIN_SCORE = 3.0
# A short phrase that names a topic beside twitching and says nothing about oneself
# ("magnesium for twitches", "thyroid and twitching") asks about that topic: it is answered
# from this floor, and when nothing matches the bot says it has no answer (rather than "not
# sure what to do with that"). A lone shared word ("twitching") scores below it.
TOPIC_MIN_SCORE = 2.0
TOPIC_MAX_WORDS = 6
# The phrase joins two things ("X and twitching", "X for twitches"); "eyelid twitching
# again" is a report.
_TOPIC_JOINS = frozenset(("and", "for", "with", "vs", "versus", "or", "from", "after", "causing"))
# A second snippet is added only when it is nearly as relevant as the first.
SECOND_RESULT_RATIO = 0.6
# Title and keywords say what a snippet is about more densely than its body.
TITLE_WEIGHT = 2
KEYWORD_WEIGHT = 2
# The longest everyday phrase in a synonym table that is looked for, in words.
MAX_PHRASE_WORDS = 6

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
    often feel feeling pls plz nah yeah yep lol cheers mate guys anyone somebody someone
    actually literally basically then link connection connected come
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())

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
# Asking, wherever it sits in the message ("eyelid jumping all week whats that about").
_QUESTION_ANYWHERE = re.compile(
    r"\b(?:what|whats|why|how|which|who|whose|whether|wonder|wondering|how come|or nah|"
    r"or not|pls|plz|please|tell me|explain|any link|any connection|any tips|any advice|"
    r"any ideas|difference|vs|versus|do i|should i|can i|could i|is it|is this|is that|"
    r"are they|does it|does that)\b"
    r"|\bright\s*$"
)
# A statement about oneself ("I slept badly") is not a question unless it connects to
# twitching or to a fear about it; these are the normalised words that make that connection.
_FIRST_PERSON = frozenset(("i", "im", "ive", "id", "ill", "my", "me", "mine", "myself"))
_STATEMENT_CUES = frozenset(("twitch", "cramp", "als", "serious", "worry", "anxiety"))


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
            elif suffix == "ed" and token.endswith("i"):
                token = token[:-1] + "y"  # worried -> worry, like worries -> worry
            break
    if token.endswith("e") and len(token) > 4:
        token = token[:-1]
    return token


def _words(text: str) -> list[str]:
    text = text.casefold().replace("’", "'").replace("'", "")
    text = _B_VITAMIN.sub(r"b\1", text)
    text = _VITAMIN_D.sub("vitamin d", text)
    return _TOKEN.findall(text)


def phrase_key(phrase: str) -> tuple[str, ...]:
    """How an everyday word or phrase is looked up: its stemmed words, stop words included."""
    return tuple(_stem(word) for word in _words(phrase))


Synonyms = Mapping[tuple[str, ...], tuple[str, ...]]
NO_SYNONYMS: Synonyms = {}


def synonym_table(entries: Iterable[tuple[Iterable[str], Iterable[str]]]) -> Synonyms:
    """(everyday words, what they mean) pairs -> phrase key -> the pack tokens it adds."""
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    for words, means in entries:
        tokens = tuple(token for meaning in means for token in normalise(meaning))
        for word in words:
            key = phrase_key(word)
            if key and len(key) <= MAX_PHRASE_WORDS:
                table[key] = tuple(dict.fromkeys((*table.get(key, ()), *tokens)))
    return table


def normalise(text: str, synonyms: Synonyms = NO_SYNONYMS) -> list[str]:
    """Tokens for BM25: lowercase words minus stop words, stemmed, plus what any everyday
    word or phrase from `synonyms` stands for (the longest phrase wins)."""
    words = _words(text)
    stems = [_stem(word) for word in words]
    tokens: list[str] = []
    position = 0
    while position < len(words):
        word = words[position]
        if word == "mg" and not (position and words[position - 1].isdigit()):
            tokens.extend(_MG_AS_MAGNESIUM)
            position += 1
            continue
        length = _longest_phrase(stems, position, synonyms)
        covered = range(position, position + max(length, 1))
        tokens += [stems[i] for i in covered if words[i] not in _STOPWORDS and words[i] != "mg"]
        if length:
            own = stems[position : position + length]
            tokens += [token for token in synonyms[tuple(own)] if token not in own]
        position = covered.stop
    return tokens


def _longest_phrase(stems: Sequence[str], start: int, synonyms: Synonyms) -> int:
    """Length of the longest synonym phrase starting at `start`, or 0."""
    if not synonyms:
        return 0
    for length in range(min(MAX_PHRASE_WORDS, len(stems) - start), 0, -1):
        if tuple(stems[start : start + length]) in synonyms:
            return length
    return 0


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


class Reading(enum.Enum):
    """How a free message (outside any open conversation) reads."""

    QUESTION = "question"  # clearly asks: answer it, or say there is no answer
    MAYBE = "maybe"  # a bare phrase or a statement: answer only a clear match
    NOT_A_QUESTION = "not_a_question"  # a check-in answer, a command, "thanks"


@dataclass(frozen=True)
class Reply:
    """What a free message gets from the content: an answer, and how the message read."""

    reading: Reading
    answer: Answer | None = None
    # A short phrase about a topic beside twitching: with no answer, say there is none.
    topic: bool = False


class QuestionIndex:
    """A BM25 index over one content pack; build once per pack version."""

    def __init__(self, pack: ContentPack) -> None:
        self._snippets = pack.snippets
        self._synonyms = synonym_table((entry.words, entry.means) for entry in pack.synonyms)
        self._bm25 = BM25Okapi([_document(pack, snippet) for snippet in pack.snippets])
        self._topic_words = frozenset(
            token
            for topic in pack.topics
            for token in normalise(" ".join((topic.label, *topic.keywords)))
        )

    def tokens(self, question: str) -> list[str]:
        """The question as the index sees it: normalised and widened with the synonyms."""
        return normalise(question, self._synonyms)

    def is_on_topic(self, question: str) -> bool:
        """Whether the question uses at least one of the pack's topic words."""
        return not self._topic_words.isdisjoint(self.tokens(question))

    def ranked(self, question: str) -> list[tuple[Snippet, float]]:
        """All snippets with their scores, best first (ties keep pack order)."""
        tokens = self.tokens(question)
        if not tokens:
            return [(snippet, 0.0) for snippet in self._snippets]
        scores: Iterable[float] = self._bm25.get_scores(tokens)
        pairs = list(zip(self._snippets, (float(score) for score in scores), strict=True))
        return sorted(pairs, key=lambda pair: -pair[1])

    def ask(self, question: str, *, limit: int = 2, min_score: float = MIN_SCORE) -> Answer | None:
        """Up to `limit` snippets answering the question, or None for "I don't have that one"."""
        if limit <= 0 or not self.is_on_topic(question):
            return None
        ranked = self.ranked(question)
        if not ranked or ranked[0][1] < min_score:
            return None
        best = ranked[0][1]
        chosen = [ranked[0][0]]
        chosen += [s for s, score in ranked[1:limit] if score >= best * SECOND_RESULT_RATIO]
        return Answer(snippets=tuple(chosen), score=best)

    def reply(self, text: str) -> Reply:
        """A free message read as a question (or not) and answered when it is one."""
        reading = read_message(text, self.tokens)
        if reading is Reading.NOT_A_QUESTION:
            return Reply(reading)
        topic = reading is Reading.MAYBE and is_topic_phrase(text, self.tokens)
        if reading is Reading.QUESTION:
            floor = MIN_SCORE
        else:
            floor = TOPIC_MIN_SCORE if topic else MAYBE_MIN_SCORE
        return Reply(reading, self.ask(text, min_score=floor), topic=topic)


# Check-in questions' parsers: a message one of them accepts is a (late) check-in answer.
_CHECKIN_PARSERS: tuple[Callable[[str], object], ...] = (
    parsing.parse_severity,
    parsing.parse_locations,
    parsing.parse_sleep_hours,
    parsing.parse_caffeine,
    parsing.parse_water_litres,
    parsing.parse_yes_no,
)


def _is_checkin_answer(text: str) -> bool:
    for parse in _CHECKIN_PARSERS:
        try:
            parse(text)
        except ValueError:
            continue
        return True
    return False


def is_topic_phrase(text: str, tokens: Callable[[str], list[str]] = normalise) -> bool:
    """A few words naming a topic beside twitching, with nothing said about oneself."""
    words = _words(text.strip())
    return (
        2 <= len(words) <= TOPIC_MAX_WORDS
        and not _TOPIC_JOINS.isdisjoint(words)
        and _FIRST_PERSON.isdisjoint(words)
        and not _STATEMENT_CUES.isdisjoint(tokens(text))
    )


def read_message(text: str, tokens: Callable[[str], list[str]] = normalise) -> Reading:
    """How a free message reads: a question, perhaps one, or not one.

    A question: a question mark with at least two words, a question opening ("what", "can",
    "tell me" ...) with at least three, or a question word or request anywhere ("whats that
    about", "b12 stuff pls", "... or nah"). Not one: a command, or anything a check-in
    question accepts ("2 coffees", "mild", "yes") without a question word. Perhaps one: a
    phrase that does not speak about oneself ("booze and twitching", "als scared"), or a
    statement that ties something to twitching or to a fear about it ("anxiety making my
    muscles jump"); `tokens` (the index's normalisation) decides that tie.
    """
    stripped = text.strip()
    if not stripped or stripped.startswith("/"):
        return Reading.NOT_A_QUESTION
    words = _words(stripped)
    if not words:
        return Reading.NOT_A_QUESTION
    lowered = " ".join(words)
    asks = _QUESTION_ANYWHERE.search(lowered) is not None
    if _is_checkin_answer(stripped) and not asks and "?" not in stripped:
        return Reading.NOT_A_QUESTION
    opening = stripped.casefold().replace("’", "'")
    if (
        ("?" in stripped and len(words) >= 2)
        or (len(words) >= 3 and _QUESTION_START.match(opening) is not None)
        or (asks and len(words) >= 2)
    ):
        return Reading.QUESTION
    if _FIRST_PERSON.isdisjoint(words) or not _STATEMENT_CUES.isdisjoint(tokens(stripped)):
        return Reading.MAYBE
    return Reading.NOT_A_QUESTION


def looks_like_question(text: str) -> bool:
    """Whether a free message clearly reads as a question (see `read_message`)."""
    return read_message(text) is Reading.QUESTION


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
