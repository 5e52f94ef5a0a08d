"""Reading red flags out of free text: normalise, find trigger words, keep only affirmed ones.

The technique is deliberately plain and explainable: regular expressions written as data in
``content/redflags.yaml``, a NegEx/ConText-style check of the words around each match
(negation, hypothetical or read-about, someone else, long ago) limited to its clause, and
spelling correction of unknown words towards the trigger vocabulary (rapidfuzz, with
pyspellchecker's word list deciding what counts as a real English word). Everything runs
offline and deterministically, and every finding carries the words that caused it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import process
from rapidfuzz.distance import OSA
from spellchecker import SpellChecker

# Telegram messages are at most 4096 characters; anything longer is cut, keeping work bounded.
MAX_TEXT_CHARS = 4096
# Evidence is shown only to the person and stored with the escalation; keep it short.
MAX_EVIDENCE_CHARS = 80
# Unknown words shorter than this are never "corrected": too many real words are one edit apart.
MIN_CORRECTABLE_LENGTH = 4
LONG_WORD_LENGTH = 8
# Terms may refer to other terms this many levels deep; deeper means a cycle or a mistake.
MAX_TERM_NESTING = 4

_TERM_REFERENCE = re.compile(r"<<([a-z_]+)>>")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_WORD_COUNT = re.compile(r"[\w']+")
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;\n]*")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'", "＇": "'"})
_DASH_BETWEEN_LETTERS = re.compile(r"(?<=[a-z])[-‐‑–—_/](?=[a-z])")
_SPACES = re.compile(r"[ \t\u00a0]+")
_APOSTROPHE_S = re.compile(
    r"(?<![a-z'])(?P<stem>[a-z]+)'s(?![a-z'])(?=(?P<perfect> (?:been|got|gotten|gone|had)\b)?)"
)


class FlagTextSpec(BaseModel):
    """The text-matching part of one flag in the content pack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patterns: list[str] = Field(default_factory=list)
    excludes: list[str] = Field(default_factory=list)
    with_any: list[str] = Field(default_factory=list)
    context: str | None = None
    duration_over_days: int | None = Field(default=None, ge=1)
    several_body_areas: int | None = Field(default=None, ge=2)
    # Still a finding when the person says it has passed ("face drooped, it's gone now"):
    # emergency signs that come and go still need help now.
    counts_when_resolved: bool = False


class ContextSpec(BaseModel):
    """Cue lists that decide whether a trigger is affirmed (see the YAML comments)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause_breaks: list[str]
    negation_before: list[str]
    negation_before_words: int = Field(ge=1, le=20)
    negation_after: list[str]
    negation_after_chars: int = Field(ge=1, le=200)
    resolved_after: list[str] = Field(default_factory=list)
    resolved_after_chars: int = Field(default=60, ge=1, le=200)
    pseudo_negation: list[str]
    hypothetical_before: list[str]
    hypothetical_after: list[str]
    question_start: str
    ownership_before: str
    ownership_before_words: int = Field(ge=1, le=10)
    question_owner: str
    ownership_after: str
    other_person: list[str]
    # Cues that someone else's sign is happening now ("my mum is suddenly muddled"): for
    # emergency flags, the person may need to call for help for them, so it still counts.
    other_person_now: list[str] = Field(default_factory=list)
    first_person: str
    historical: list[str]
    historical_cancel: str
    twitching: str
    twitching_pronoun: list[str]
    body_areas: dict[str, list[str]]


class DurationSpec(BaseModel):
    """Vocabulary for reading "for 3 weeks", "a fortnight", "since last month"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units_in_days: dict[str, int]
    number_words: dict[str, int]
    since_long: list[str]


class SpellingSpec(BaseModel):
    """Trigger vocabulary for fuzzy correction and whole-word replacements."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocabulary: list[str]
    replacements: dict[str, str]
    # "heart's racing" is read as "heart is racing" ("has" before been/got/gone/had), so
    # patterns written for "heart is" also cover the contraction. Listed words keep their
    # "'s" ("it's", "that's"): patterns spell those out. Absent: no word is expanded.
    apostrophe_s_kept: list[str] | None = None


@dataclass(frozen=True)
class FlagTextRule:
    """One flag's compiled text rule."""

    flag_id: str
    patterns: tuple[re.Pattern[str], ...]
    excludes: tuple[re.Pattern[str], ...]
    with_any: tuple[re.Pattern[str], ...]
    needs_twitching_context: bool
    counts_when_resolved: bool
    duration_over_days: int | None
    several_body_areas: int | None


@dataclass(frozen=True)
class ContextCues:
    """Compiled cue patterns."""

    clause_breaks: tuple[re.Pattern[str], ...]
    negation_before: tuple[re.Pattern[str], ...]
    negation_before_words: int
    negation_after: tuple[re.Pattern[str], ...]
    negation_after_chars: int
    resolved_after: tuple[re.Pattern[str], ...]
    resolved_after_chars: int
    pseudo_negation: tuple[re.Pattern[str], ...]
    hypothetical_before: tuple[re.Pattern[str], ...]
    hypothetical_after: tuple[re.Pattern[str], ...]
    question_start: re.Pattern[str]
    ownership_before: re.Pattern[str]
    ownership_before_words: int
    question_owner: re.Pattern[str]
    ownership_after: re.Pattern[str]
    other_person: tuple[re.Pattern[str], ...]
    first_person: re.Pattern[str]
    historical: tuple[re.Pattern[str], ...]
    historical_cancel: re.Pattern[str]
    twitching: re.Pattern[str]
    twitching_pronoun: tuple[re.Pattern[str], ...]
    body_areas: tuple[tuple[str, re.Pattern[str]], ...]
    # Empty except in the emergency cues (see ContextSpec.other_person_now).
    other_person_now: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class DurationGrammar:
    """Compiled duration reader."""

    phrase: re.Pattern[str]
    since_long: re.Pattern[str]
    units_in_days: Mapping[str, int]
    number_words: Mapping[str, int]


@dataclass(frozen=True)
class Speller:
    """Whole-word replacements plus fuzzy correction towards the trigger vocabulary."""

    vocabulary: tuple[str, ...]
    replacements: Mapping[str, str]
    apostrophe_s_kept: frozenset[str] | None = None


@dataclass(frozen=True)
class TextRules:
    """Everything :func:`find_mentions` needs, compiled once per content pack."""

    flag_rules: tuple[FlagTextRule, ...]
    cues: ContextCues
    durations: DurationGrammar
    speller: Speller
    # For emergency flags: a sign that has passed still counts, and so does someone else's
    # sign that is happening now.
    cues_ignoring_resolution: ContextCues
    # The same without the "someone else, now" cues: a mention found only with them is a
    # bystander's (someone else's emergency).
    cues_own_ignoring_resolution: ContextCues | None = None


@dataclass(frozen=True)
class Mention:
    """An affirmed mention of a flag in the text, with the words that showed it."""

    flag_id: str
    evidence: str


@dataclass(frozen=True)
class TextReading:
    """What the rules read in a message: affirmed mentions, plus two facts for the learned
    opinion: whether a trigger was seen and then excluded (negated, an idiom, hypothetical,
    someone else, the past), and which mentions are someone else's emergency now."""

    mentions: tuple[Mention, ...]
    excluded: bool
    bystander_flags: frozenset[str]


@dataclass(frozen=True)
class _Sentence:
    text: str
    breaks: tuple[int, ...]  # clause boundaries, sorted, including 0 and len(text)


# ----------------------------------------------------------------------------- compiling


def _expand(pattern: str, terms: Mapping[str, Sequence[str]], where: str) -> str:
    """Replace <<name>> by its alternatives; terms may use other terms (small vocabularies
    such as "intensifier" or "sudden onset" are shared), but never themselves."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in terms:
            raise ValueError(f"{where}: unknown term <<{name}>> in pattern {pattern!r}")
        return "(?:" + "|".join(terms[name]) + ")"

    expanded = pattern
    for _ in range(MAX_TERM_NESTING + 1):
        if not _TERM_REFERENCE.search(expanded):
            return expanded
        expanded = _TERM_REFERENCE.sub(replace, expanded)
    raise ValueError(f"{where}: terms nested too deeply (or in a cycle) in pattern {pattern!r}")


def _compile(pattern: str, terms: Mapping[str, Sequence[str]], where: str) -> re.Pattern[str]:
    expanded = _expand(pattern, terms, where)
    try:
        return re.compile(expanded)
    except re.error as exc:
        raise ValueError(f"{where}: invalid pattern {pattern!r}: {exc}") from exc


def _word_bounded(pattern: str, terms: Mapping[str, Sequence[str]], where: str) -> str:
    """Wrap a trigger so it matches whole words only ("numb" never inside "number"). A match
    that ends on a space or other non-letter ("numb to the ") needs no end boundary."""
    expanded = _expand(pattern, terms, where)
    return rf"(?<![a-z'])(?:{expanded})(?:(?<![a-z])|(?![a-z]))"


def _compile_all(
    patterns: Sequence[str],
    terms: Mapping[str, Sequence[str]],
    where: str,
    *,
    whole_words: bool,
) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        source = _word_bounded(pattern, terms, where) if whole_words else pattern
        compiled.append(_compile(source, terms, where))
    return tuple(compiled)


def compile_text_rules(
    flags: Mapping[str, FlagTextSpec],
    terms: Mapping[str, Sequence[str]],
    context: ContextSpec,
    durations: DurationSpec,
    spelling: SpellingSpec,
) -> TextRules:
    """Compile the content pack's text rules; raises ValueError naming the bad entry."""
    flag_rules = []
    for flag_id, spec in flags.items():
        where = f"flag {flag_id!r}"
        if spec.context not in (None, "twitching"):
            raise ValueError(f"{where}: context must be 'twitching' or absent")
        flag_rules.append(
            FlagTextRule(
                flag_id=flag_id,
                patterns=_compile_all(spec.patterns, terms, where, whole_words=True),
                excludes=_compile_all(spec.excludes, terms, where, whole_words=True),
                with_any=_compile_all(spec.with_any, terms, where, whole_words=True),
                needs_twitching_context=spec.context == "twitching",
                counts_when_resolved=spec.counts_when_resolved,
                duration_over_days=spec.duration_over_days,
                several_body_areas=spec.several_body_areas,
            )
        )
    where = "context"

    def many(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
        return _compile_all(patterns, terms, where, whole_words=False)

    def one(pattern: str) -> re.Pattern[str]:
        return _compile(pattern, terms, where)

    cues = ContextCues(
        clause_breaks=many(context.clause_breaks),
        negation_before=many(context.negation_before),
        negation_before_words=context.negation_before_words,
        negation_after=many(context.negation_after),
        negation_after_chars=context.negation_after_chars,
        resolved_after=many(context.resolved_after),
        resolved_after_chars=context.resolved_after_chars,
        pseudo_negation=_compile_all(context.pseudo_negation, terms, where, whole_words=True),
        hypothetical_before=many(context.hypothetical_before),
        hypothetical_after=many(context.hypothetical_after),
        question_start=one(context.question_start),
        ownership_before=one(context.ownership_before),
        ownership_before_words=context.ownership_before_words,
        question_owner=one(context.question_owner),
        ownership_after=one(context.ownership_after),
        other_person=many(context.other_person),
        first_person=one(context.first_person),
        historical=many(context.historical),
        historical_cancel=one(context.historical_cancel),
        twitching=_compile(_word_bounded(context.twitching, terms, where), terms, where),
        twitching_pronoun=many(context.twitching_pronoun),
        body_areas=tuple(
            (area, _compile(_word_bounded("|".join(words), terms, where), terms, where))
            for area, words in context.body_areas.items()
        ),
    )
    return TextRules(
        flag_rules=tuple(flag_rules),
        cues=cues,
        cues_ignoring_resolution=dataclasses.replace(
            cues, resolved_after=(), other_person_now=many(context.other_person_now)
        ),
        cues_own_ignoring_resolution=dataclasses.replace(cues, resolved_after=()),
        durations=_compile_durations(durations),
        speller=Speller(
            vocabulary=tuple(sorted({word.casefold() for word in spelling.vocabulary})),
            replacements={k.casefold(): v.casefold() for k, v in spelling.replacements.items()},
            apostrophe_s_kept=(
                None
                if spelling.apostrophe_s_kept is None
                else frozenset(word.casefold() for word in spelling.apostrophe_s_kept)
            ),
        ),
    )


def _compile_durations(spec: DurationSpec) -> DurationGrammar:
    def alternation(words: Sequence[str]) -> str:
        ordered = sorted(words, key=len, reverse=True)  # longest first: "a couple of" before "a"
        return "|".join(re.escape(word) for word in ordered)

    phrase = re.compile(
        r"(?<![a-z])(?P<more>more than |over |at least |almost |nearly |about |around |like )?"
        rf"(?P<number>\d{{1,4}}(?:\.\d+)?|{alternation(list(spec.number_words))})\s*"
        rf"(?P<unit>{alternation(list(spec.units_in_days))})(?![a-z])"
        # An age, not a duration: "my 8 month old", "a 3 year old".
        r"(?![ -]olds?\b)"
    )
    since_long = re.compile(rf"\bsince (?:about |around )?(?:{'|'.join(spec.since_long)})\b")
    return DurationGrammar(
        phrase=phrase,
        since_long=since_long,
        units_in_days=dict(spec.units_in_days),
        number_words=dict(spec.number_words),
    )


# ----------------------------------------------------------------------------- normalising


@functools.cache
def _english_words() -> SpellChecker:
    """pyspellchecker's English word list, loaded once; it only tells real words apart."""
    return SpellChecker(language="en", distance=1)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _drop_control_characters(text: str) -> str:
    kept = []
    for ch in text:
        if ch == "\n":
            kept.append(ch)
        elif unicodedata.category(ch)[0] in ("C", "Z"):
            kept.append(" ")
        else:
            kept.append(ch)
    return "".join(kept)


def _correct_word(word: str, speller: Speller) -> str:
    if word in speller.replacements:
        return speller.replacements[word]
    if (
        len(word) < MIN_CORRECTABLE_LENGTH
        or not word.isalpha()
        or word in speller.vocabulary
        or word in _english_words()
    ):
        return word
    max_edits = 1 if len(word) < LONG_WORD_LENGTH else 2
    best = process.extractOne(word, speller.vocabulary, scorer=OSA.distance, score_cutoff=max_edits)
    return word if best is None else str(best[0])


def _expand_apostrophe_s(text: str, kept: frozenset[str]) -> str:
    """Spell out "<noun>'s" as "<noun> is" (or "has" before been/got/gone/had)."""

    def expand(match: re.Match[str]) -> str:
        stem = match.group("stem")
        if stem in kept:
            return match.group()
        return f"{stem} has" if match.group("perfect") else f"{stem} is"

    return _APOSTROPHE_S.sub(expand, text)


def normalise(text: str, speller: Speller) -> str:
    """Lower-case, plain-ASCII-ish text with contractions restored and misspellings fixed."""
    text = _drop_control_characters(text[:MAX_TEXT_CHARS])
    text = _strip_accents(unicodedata.normalize("NFKC", text)).casefold().translate(_QUOTES)
    text = _DASH_BETWEEN_LETTERS.sub(" ", text).replace("&", " and ")
    text = re.sub(r"\bcan not\b", "can't", text)
    if speller.apostrophe_s_kept is not None:
        text = _expand_apostrophe_s(text, speller.apostrophe_s_kept)
    text = _WORD.sub(lambda match: _correct_word(match.group(), speller), text)
    return _SPACES.sub(" ", text)


# ----------------------------------------------------------------------------- context


def _words(text: str) -> int:
    return len(_WORD_COUNT.findall(text))


def _split_sentences(text: str, cues: ContextCues) -> Iterator[_Sentence]:
    for match in _SENTENCE.finditer(text):
        sentence = match.group()
        if not sentence.strip():
            continue
        breaks = {0, len(sentence)}
        for pattern in cues.clause_breaks:
            breaks.update(found.start() for found in pattern.finditer(sentence))
        yield _Sentence(text=sentence, breaks=tuple(sorted(breaks)))


def _clause(sentence: _Sentence, start: int, end: int) -> tuple[int, int]:
    clause_start = max(b for b in sentence.breaks if b <= start)
    clause_end = min(b for b in sentence.breaks if b >= end)
    return clause_start, clause_end


def _inside_pseudo_negation(sentence: str, start: int, end: int, cues: ContextCues) -> bool:
    return any(
        found.start() <= start and end <= found.end()
        for pattern in cues.pseudo_negation
        for found in pattern.finditer(sentence)
    )


def _is_negated(sentence: _Sentence, start: int, end: int, cues: ContextCues) -> bool:
    clause_start, clause_end = _clause(sentence, start, end)
    text = sentence.text
    before = text[clause_start:start]
    for pattern in cues.negation_before:
        for cue in pattern.finditer(before):
            cue_start, cue_end = clause_start + cue.start(), clause_start + cue.end()
            if _words(text[cue_end:start]) > cues.negation_before_words:
                continue
            if not _inside_pseudo_negation(text, cue_start, cue_end, cues):
                return True
    after_end = min(clause_end, end + cues.negation_after_chars)
    after = text[end:after_end]
    for pattern in cues.negation_after:
        after_cue = pattern.search(after)
        if after_cue is None:
            continue
        # Patterns may mark the deciding word as (?P<cue>...); pseudo-negation is checked on it.
        group = "cue" if "cue" in pattern.groupindex else 0
        cue_start, cue_end = after_cue.span(group)
        if not _inside_pseudo_negation(text, end + cue_start, end + cue_end, cues):
            return True
    return _is_resolved(sentence, end, cues)


def _is_resolved(sentence: _Sentence, end: int, cues: ContextCues) -> bool:
    """A following clause says it is over ("pins and needles, but it's gone now"); unlike
    negation this reaches past one clause break, never past the sentence."""
    text = sentence.text
    following = text[end : end + cues.resolved_after_chars]
    for pattern in cues.resolved_after:
        found = pattern.search(following)
        if found is None:
            continue
        # As for negation, "(?P<cue>...)" marks the deciding word ("hasn't stopped" is no cue).
        group = "cue" if "cue" in pattern.groupindex else 0
        cue_start, cue_end = found.span(group)
        if not _inside_pseudo_negation(text, end + cue_start, end + cue_end, cues):
            return True
    return False


def _is_owned(sentence: _Sentence, start: int, end: int, cues: ContextCues) -> bool:
    """Does the person tie the symptom to themselves ("my legs", "in my hand")?"""
    text = sentence.text
    clause_start, clause_end = _clause(sentence, start, end)
    words_before = _WORD_COUNT.findall(text[clause_start:start])
    recent = " ".join(words_before[-cues.ownership_before_words :])
    return bool(
        cues.ownership_before.search(recent)
        or cues.ownership_before.search(text[start:end])
        or cues.ownership_after.search(text[end:clause_end])
    )


def _is_hypothetical(sentence: _Sentence, start: int, end: int, cues: ContextCues) -> bool:
    text = sentence.text
    clause_start, clause_end = _clause(sentence, start, end)
    before, after = text[clause_start:start], text[end:clause_end]
    if any(pattern.search(before) for pattern in cues.hypothetical_before):
        return True
    if any(pattern.search(after) for pattern in cues.hypothetical_after):
        return True
    asks = "?" in text and bool(cues.question_start.search(text[clause_start:clause_end]))
    return asks and not cues.question_owner.search(before)


def _is_someone_else(sentence: _Sentence, start: int, end: int, cues: ContextCues) -> bool:
    text = sentence.text
    clause_start, clause_end = _clause(sentence, start, end)
    if any(p.search(text, clause_start, clause_end) for p in cues.other_person_now):
        return False
    for pattern in cues.other_person:
        for cue in pattern.finditer(text, clause_start, start):
            between = text[cue.end() : start] + " " + text[start:end]
            if not cues.first_person.search(between):
                return True
    return False


def _is_past(sentence: _Sentence, start: int, end: int, cues: ContextCues) -> bool:
    clause_start, clause_end = _clause(sentence, start, end)
    clause = sentence.text[clause_start:clause_end]
    return any(p.search(clause) for p in cues.historical) and not cues.historical_cancel.search(
        clause
    )


def _is_affirmed(sentence: _Sentence, start: int, end: int, cues: ContextCues) -> bool:
    """True when the words at [start, end) describe the person's own symptom, now."""
    if _is_negated(sentence, start, end, cues):
        return False
    if _is_hypothetical(sentence, start, end, cues) and not _is_owned(sentence, start, end, cues):
        return False
    if _is_someone_else(sentence, start, end, cues):
        return False
    return not _is_past(sentence, start, end, cues)


def _about_twitching(sentence: _Sentence, cues: ContextCues, *, allow_pronoun: bool) -> bool:
    if cues.twitching.search(sentence.text):
        return True
    return allow_pronoun and any(p.search(sentence.text) for p in cues.twitching_pronoun)


# ----------------------------------------------------------------------------- matching


def _evidence(text: str) -> str:
    return text.strip()[:MAX_EVIDENCE_CHARS]


def _first_affirmed(
    sentence: _Sentence,
    patterns: Sequence[re.Pattern[str]],
    excludes: Sequence[re.Pattern[str]],
    cues: ContextCues,
    *,
    negation_only: bool = False,
) -> str | None:
    idioms = [found.span() for pattern in excludes for found in pattern.finditer(sentence.text)]
    for pattern in patterns:
        for found in pattern.finditer(sentence.text):
            start, end = found.span()
            if any(start < idiom_end and idiom_start < end for idiom_start, idiom_end in idioms):
                continue
            affirmed = (
                not _is_negated(sentence, start, end, cues)
                if negation_only
                else _is_affirmed(sentence, start, end, cues)
            )
            if affirmed:
                return _evidence(found.group())
    return None


def _days(match: re.Match[str], grammar: DurationGrammar) -> float:
    number_text = match.group("number")
    number = float(number_text) if number_text[0].isdigit() else grammar.number_words[number_text]
    days = number * grammar.units_in_days[match.group("unit")]
    return days + 1 if match.group("more") in ("more than ", "over ", "at least ") else days


def _long_duration(
    sentence: _Sentence, threshold: int, grammar: DurationGrammar, cues: ContextCues
) -> str | None:
    for found in grammar.phrase.finditer(sentence.text):
        if _days(found, grammar) > threshold and _is_affirmed(sentence, *found.span(), cues):
            return _evidence(found.group())
    for found in grammar.since_long.finditer(sentence.text):
        if _is_affirmed(sentence, *found.span(), cues):
            return _evidence(found.group())
    return None


def _several_areas(sentence: _Sentence, minimum: int, cues: ContextCues) -> str | None:
    seen: dict[str, str] = {}
    for area, pattern in cues.body_areas:
        for found in pattern.finditer(sentence.text):
            if _is_affirmed(sentence, *found.span(), cues):
                seen.setdefault(area, found.group().strip())
                break
    if len(seen) >= minimum:
        return _evidence(" + ".join(seen.values()))
    return None


def _mention_in_sentence(
    rule: FlagTextRule, sentence: _Sentence, rules: TextRules, *, own_only: bool = False
) -> str | None:
    cues = rules.cues_ignoring_resolution if rule.counts_when_resolved else rules.cues
    if own_only and rule.counts_when_resolved and rules.cues_own_ignoring_resolution:
        cues = rules.cues_own_ignoring_resolution
    if rule.needs_twitching_context and not _about_twitching(sentence, cues, allow_pronoun=True):
        return None
    evidence = _first_affirmed(sentence, rule.patterns, rule.excludes, cues)
    if evidence is None and rule.duration_over_days is not None:
        evidence = _long_duration(sentence, rule.duration_over_days, rules.durations, cues)
    if (
        evidence is None
        and rule.several_body_areas is not None
        and _about_twitching(sentence, cues, allow_pronoun=True)
    ):
        evidence = _several_areas(sentence, rule.several_body_areas, cues)
    return evidence


def find_mentions(rules: TextRules, text: str) -> list[Mention]:
    """Every flag affirmed in ``text``, at most one mention per flag, in catalogue order."""
    return list(read_text(rules, text).mentions)


def _triggered(rule: FlagTextRule, sentences: Sequence[_Sentence]) -> bool:
    return any(pattern.search(s.text) for s in sentences for pattern in rule.patterns)


def _someone_elses(
    rule: FlagTextRule, sentences: Sequence[_Sentence], rules: TextRules, evidence: str
) -> bool:
    """Is this emergency mention about someone else? Either it is found only thanks to the
    "someone else, now" cues, or its sentence names another person before it with no "I"
    or "me" in between ("my dad has gone down and is not responding")."""
    if not any(_mention_in_sentence(rule, s, rules, own_only=True) for s in sentences):
        return True
    cues = rules.cues
    for sentence in sentences:
        at = sentence.text.find(evidence)
        if at < 0:
            continue
        for pattern in cues.other_person:
            for cue in pattern.finditer(sentence.text, 0, at):
                if not cues.first_person.search(sentence.text[cue.end() : at + len(evidence)]):
                    return True
        return False
    return False


def read_text(rules: TextRules, text: str) -> TextReading:
    """Affirmed mentions, whether a trigger was excluded, and whose emergency it is."""
    normalised = normalise(text, rules.speller)
    sentences = list(_split_sentences(normalised, rules.cues))
    mentions = []
    excluded = False
    bystander: set[str] = set()
    for rule in rules.flag_rules:
        cues = rules.cues_ignoring_resolution if rule.counts_when_resolved else rules.cues
        evidence = next(
            (
                found
                for sentence in sentences
                if (found := _mention_in_sentence(rule, sentence, rules)) is not None
            ),
            None,
        )
        if evidence is None:
            excluded = excluded or _triggered(rule, sentences)
            continue
        if rule.with_any and not any(
            _first_affirmed(sentence, rule.with_any, (), cues, negation_only=True)
            for sentence in sentences
        ):
            continue
        if rule.counts_when_resolved and _someone_elses(rule, sentences, rules, evidence):
            bystander.add(rule.flag_id)
        mentions.append(Mention(flag_id=rule.flag_id, evidence=evidence))
    return TextReading(
        mentions=tuple(mentions), excluded=excluded, bystander_flags=frozenset(bystander)
    )
