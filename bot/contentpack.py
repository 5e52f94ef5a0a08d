"""The educational content pack: schema, loading and validation.

A pack is a folder of YAML files, each owned by one section (pack.yaml, sources.yaml,
topics.yaml, snippets.yaml, rules.yaml, synonyms.yaml). Files are read by their explicit
names, so other files living in the same folder (questions, messages, red flags) are left to
their own loaders.

Validation runs in two stages so that it can report every problem at once, each with its file
and location: first each file is parsed and checked against its schema, then cross-file checks
(ids that must exist, duplicates, message length, ...) run over the files that passed. Both
stages are lists (`PACK_SECTIONS`, `PACK_CHECKS`) that other modules can extend.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, TextIO, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.domain.ask import normalise, phrase_key
from bot.domain.checkin import HIGH_CAFFEINE_MG, Severity
from bot.domain.snippets import render_snippet

# One phone screen of body text; the whole rendered message must also fit Telegram's limit.
SNIPPET_BODY_MAX_CHARS = 600
SNIPPET_TITLE_MAX_CHARS = 90
TRY_THIS_MAX_CHARS = 200
TELEGRAM_MESSAGE_MAX_CHARS = 4096
# Button labels in the /learn menu stay short enough for two per row on a phone.
TOPIC_LABEL_MAX_CHARS = 40
# Calm days rotate through the general tips; with fewer than this the rotation repeats daily.
MIN_GENERAL_TIPS = 3
# Only escalation messages may start with these: people and tests rely on 🚨 / ⚠️ meaning an
# escalation (README "Red flags").
ESCALATION_PREFIXES = ("🚨", "⚠")

PACK_FILE = "pack.yaml"
SOURCES_FILE = "sources.yaml"
TOPICS_FILE = "topics.yaml"
SNIPPETS_FILE = "snippets.yaml"
RULES_FILE = "rules.yaml"
SYNONYMS_FILE = "synonyms.yaml"

# Ids travel in Telegram callback data (64 bytes at most) and in the database.
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    """Immutable, and unknown keys are errors: a typo in YAML must not be silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- File schemas ---------------------------------------------------------------------------


class PackMeta(_Strict):
    """pack.yaml: the version stored with every snippet a person is shown."""

    version: Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{2}\.\d{2}-\d+$")]
    title: NonEmptyText
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = "en"


class Article(_Strict):
    """A seed article: the source every snippet names."""

    id: Identifier
    title: NonEmptyText
    file: Annotated[str, StringConstraints(pattern=r"^[\w.-]+\.txt$")]


class Guidance(_Strict):
    """A public recommendation behind a number the articles do not give (e.g. 400 mg)."""

    id: Identifier
    title: NonEmptyText
    publisher: NonEmptyText
    note: NonEmptyText


class SourcesFile(_Strict):
    articles: tuple[Article, ...] = Field(min_length=1)
    guidance: tuple[Guidance, ...] = ()


class Topic(_Strict):
    """A /learn menu entry; `keywords` are everyday words that point plain questions here."""

    id: Identifier
    label: Annotated[str, StringConstraints(min_length=1, max_length=TOPIC_LABEL_MAX_CHARS)]
    keywords: tuple[NonEmptyText, ...] = ()


class TopicsFile(_Strict):
    topics: tuple[Topic, ...] = Field(min_length=1)


class SnippetEntry(_Strict):
    """A snippet as written in snippets.yaml; sources are referenced by id."""

    id: Identifier
    topics: tuple[Identifier, ...] = Field(min_length=1)
    title: Annotated[str, StringConstraints(min_length=1, max_length=SNIPPET_TITLE_MAX_CHARS)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=SNIPPET_BODY_MAX_CHARS)]
    try_this: (
        Annotated[str, StringConstraints(min_length=1, max_length=TRY_THIS_MAX_CHARS)] | None
    ) = None
    source: Identifier
    also_sources: tuple[Identifier, ...] = ()
    guidance: tuple[Identifier, ...] = ()
    general: bool = False
    keywords: tuple[NonEmptyText, ...] = ()


class SnippetsFile(_Strict):
    snippets: tuple[SnippetEntry, ...] = Field(min_length=1)


class Conditions(_Strict):
    """All conditions given must hold for a rule to match."""

    water_litres_below: float | None = Field(default=None, gt=0)
    caffeine_mg_at_least: int | None = Field(default=None, gt=0)
    sleep_hours_below: float | None = Field(default=None, gt=0)
    severity_at_least: Severity | None = None
    twitching_days_running_at_least: int | None = Field(default=None, ge=1)
    mention: Identifier | None = None

    @field_validator("caffeine_mg_at_least")
    @classmethod
    def _the_one_caffeine_threshold(cls, value: int | None) -> int | None:
        """/insights calls a day "high caffeine" at HIGH_CAFFEINE_MG; a rule must agree."""
        if value is not None and value != HIGH_CAFFEINE_MG:
            raise ValueError(
                f"caffeine_mg_at_least must be {HIGH_CAFFEINE_MG}, the one high-caffeine "
                "threshold /insights uses too (bot.domain.checkin.HIGH_CAFFEINE_MG)"
            )
        return value

    @field_validator("severity_at_least", mode="before")
    @classmethod
    def _severity_by_name(cls, value: object) -> object:
        """YAML says `moderate`; the enum is stored by number."""
        if isinstance(value, str):
            try:
                return Severity[value.strip().upper()]
            except KeyError:
                names = ", ".join(level.name.lower() for level in Severity)
                raise ValueError(f"unknown severity {value!r}; use one of {names}") from None
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> Conditions:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a rule needs at least one condition under `when`")
        return self

    @property
    def has_numeric_threshold(self) -> bool:
        """Numbers need a cited source; a severity level or a mention does not."""
        return any(
            value is not None
            for value in (
                self.water_litres_below,
                self.caffeine_mg_at_least,
                self.sleep_hours_below,
                self.twitching_days_running_at_least,
            )
        )


class ThresholdSource(_Strict):
    """Where a rule's number comes from: guidance and/or articles, and how it was chosen."""

    guidance: tuple[Identifier, ...] = ()
    articles: tuple[Identifier, ...] = ()
    note: NonEmptyText

    @model_validator(mode="after")
    def _cites_something(self) -> ThresholdSource:
        if not self.guidance and not self.articles:
            raise ValueError("threshold_source must name at least one guidance or article id")
        return self


class Rule(_Strict):
    """Conditions on a check-in pointing at snippets, in preferred order."""

    id: Identifier
    when: Conditions
    snippets: tuple[Identifier, ...] = Field(min_length=1)
    priority: int = Field(ge=0, le=1000)
    threshold_source: ThresholdSource | None = None


class RulesFile(_Strict):
    rules: tuple[Rule, ...] = ()


class Synonym(_Strict):
    """Everyday words and phrases (`words`) that count as the pack's own words (`means`)."""

    means: tuple[NonEmptyText, ...] = Field(min_length=1)
    words: tuple[NonEmptyText, ...] = Field(min_length=1)


class SynonymsFile(_Strict):
    synonyms: tuple[Synonym, ...] = ()


# --- The assembled pack ---------------------------------------------------------------------


class Snippet(_Strict):
    """A snippet ready to show: its source article (and any guidance) resolved."""

    id: str
    topics: tuple[str, ...]
    title: str
    body: str
    try_this: str | None
    source: Article
    also_sources: tuple[Article, ...] = ()
    guidance: tuple[Guidance, ...] = ()
    general: bool = False
    keywords: tuple[str, ...] = ()


class ContentPack(_Strict):
    """Everything the snippet matching, /learn and question answering need, validated."""

    meta: PackMeta
    articles: tuple[Article, ...]
    guidance: tuple[Guidance, ...]
    topics: tuple[Topic, ...]
    snippets: tuple[Snippet, ...]
    rules: tuple[Rule, ...]
    synonyms: tuple[Synonym, ...] = ()

    _snippets_by_id: dict[str, Snippet] = PrivateAttr(default_factory=dict)
    _topics_by_id: dict[str, Topic] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._snippets_by_id = {snippet.id: snippet for snippet in self.snippets}
        self._topics_by_id = {topic.id: topic for topic in self.topics}

    @property
    def version(self) -> str:
        return self.meta.version

    def snippet(self, snippet_id: str) -> Snippet:
        """The snippet with this id; KeyError when the pack has none (e.g. an old stored id)."""
        return self._snippets_by_id[snippet_id]

    def has_snippet(self, snippet_id: str) -> bool:
        return snippet_id in self._snippets_by_id

    def has_topic(self, topic_id: str) -> bool:
        return topic_id in self._topics_by_id

    def topic(self, topic_id: str) -> Topic:
        return self._topics_by_id[topic_id]

    def snippets_for_topic(self, topic_id: str) -> tuple[Snippet, ...]:
        """A topic's snippets for /learn: those whose main topic it is first, then the rest."""
        main = [s for s in self.snippets if s.topics[0] == topic_id]
        also = [s for s in self.snippets if topic_id in s.topics[1:]]
        return tuple(main + also)

    def general_tips(self) -> tuple[Snippet, ...]:
        return tuple(snippet for snippet in self.snippets if snippet.general)


# --- Problems -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackProblem:
    """One thing wrong with a pack, precise enough to fix without searching."""

    file: str
    location: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        location = f" {self.location}:" if self.location else ""
        return f"{where}:{location} {self.message}"


class ContentPackError(ValueError):
    """Raised by load_pack when a pack has problems; carries all of them."""

    def __init__(self, problems: Sequence[PackProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(format_problems(self.problems))


def format_problems(problems: Iterable[PackProblem]) -> str:
    """One line per problem, `file:line: location: message`, followed by a count."""
    lines = [str(problem) for problem in problems]
    if not lines:
        return "No problems found."
    noun = "problem" if len(lines) == 1 else "problems"
    return "\n".join([*lines, f"{len(lines)} {noun} found."])


# --- Parsing and locating -------------------------------------------------------------------

ModelT = TypeVar("ModelT", bound=BaseModel)
Loc = tuple[str | int, ...]


def format_location(loc: Loc) -> str:
    """('snippets', 3, 'body') -> 'snippets[3].body'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _node_at(root: yaml.Node | None, loc: Loc) -> yaml.Node | None:
    """The deepest YAML node along `loc`, so a problem can name a line number."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
        else:
            child = None
        if child is None:
            break
        node = child
    return node


def line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest YAML node along `loc` (None without a tree)."""
    node = _node_at(root, loc)
    return node.start_mark.line + 1 if node is not None else None


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> Iterator[tuple[Loc, str, int]]:
    """PyYAML keeps the last of two equal keys silently; a pack must not rely on that."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                yield loc, key, key_node.start_mark.line + 1
            seen.add(key)
            yield from _duplicate_keys(value_node, (*loc, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index))


@dataclass(frozen=True)
class ParsedFile(Generic[ModelT]):
    """A file that passed its schema, with its YAML tree kept for line numbers."""

    name: str
    display: str
    model: ModelT
    root: yaml.Node | None

    def problem(self, loc: Loc, message: str) -> PackProblem:
        node = _node_at(self.root, loc)
        line = node.start_mark.line + 1 if node is not None else None
        return PackProblem(self.display, format_location(loc), message, line)


def _error_message(error: Mapping[str, Any], file_name: str) -> str:
    """Pydantic's message, made specific where a bare 'Field required' would puzzle a writer."""
    loc = error["loc"]
    kind = error["type"]
    if kind == "missing":
        field_name = loc[-1] if loc else "?"
        if file_name == SNIPPETS_FILE and field_name == "source":
            return "snippet has no source: add `source:` with an article id from sources.yaml"
        return f"missing required field `{field_name}`"
    if kind == "extra_forbidden":
        return f"unknown field `{loc[-1]}` (typo?)"
    if kind == "string_too_long":
        value = error.get("input")
        length = f" (it has {len(value)})" if isinstance(value, str) else ""
        return f"text too long: {error['msg'].lower()}{length}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def parse_file(
    name: str, display: str, text: str, schema: type[ModelT]
) -> tuple[ParsedFile[ModelT] | None, list[PackProblem]]:
    """Parse one YAML file against its schema; the problems name file, location and line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        return None, [PackProblem(display, "", f"not valid YAML: {problem}", line)]
    problems = [
        PackProblem(display, format_location(loc), f"duplicate key `{key}`", line)
        for loc, key, line in (_duplicate_keys(root) if root is not None else ())
    ]
    if data is None:
        data = {}
    try:
        model = schema.model_validate(data)
    except ValidationError as error:
        for detail in error.errors():
            loc: Loc = tuple(detail["loc"])
            node = _node_at(root, loc)
            line = node.start_mark.line + 1 if node is not None else None
            problems.append(
                PackProblem(display, format_location(loc), _error_message(detail, name), line)
            )
        return None, problems
    return ParsedFile(name, display, model, root), problems


# --- Sections and checks --------------------------------------------------------------------


@dataclass(frozen=True)
class PackSection:
    """A file of the pack and the schema it must satisfy."""

    file_name: str
    schema: type[BaseModel]
    required: bool = True


@dataclass
class PackDraft:
    """The files that passed their schemas, handed to the cross-file checks."""

    files: dict[str, ParsedFile[Any]] = field(default_factory=dict)

    def get(self, file_name: str, schema: type[ModelT]) -> ParsedFile[ModelT]:
        parsed = self.files[file_name]
        if not isinstance(parsed.model, schema):
            raise TypeError(f"{file_name} was parsed as {type(parsed.model).__name__}")
        return parsed


@dataclass(frozen=True)
class PackCheck:
    """A cross-file check; it runs only when all files it needs passed their schemas."""

    name: str
    requires: tuple[str, ...]
    run: Callable[[PackDraft], Iterable[PackProblem]]


def _duplicate_ids(parsed: ParsedFile[Any], list_name: str) -> Iterator[PackProblem]:
    first_index: dict[str, int] = {}
    for index, item in enumerate(getattr(parsed.model, list_name)):
        if item.id in first_index:
            yield parsed.problem(
                (list_name, index, "id"),
                f"duplicate id `{item.id}` (first used at {list_name}[{first_index[item.id]}])",
            )
        else:
            first_index[item.id] = index


def check_duplicate_ids(draft: PackDraft) -> Iterator[PackProblem]:
    sources = draft.get(SOURCES_FILE, SourcesFile)
    yield from _duplicate_ids(sources, "articles")
    yield from _duplicate_ids(sources, "guidance")
    yield from _duplicate_ids(draft.get(TOPICS_FILE, TopicsFile), "topics")
    yield from _duplicate_ids(draft.get(SNIPPETS_FILE, SnippetsFile), "snippets")
    yield from _duplicate_ids(draft.get(RULES_FILE, RulesFile), "rules")


def check_snippet_references(draft: PackDraft) -> Iterator[PackProblem]:
    """Every snippet names a known article, known guidance and known topics."""
    sources = draft.get(SOURCES_FILE, SourcesFile).model
    article_ids = {article.id for article in sources.articles}
    guidance_ids = {item.id for item in sources.guidance}
    topic_ids = {topic.id for topic in draft.get(TOPICS_FILE, TopicsFile).model.topics}
    snippets = draft.get(SNIPPETS_FILE, SnippetsFile)
    for index, snippet in enumerate(snippets.model.snippets):
        if snippet.source not in article_ids:
            yield snippets.problem(
                ("snippets", index, "source"),
                f"snippet `{snippet.id}` names source `{snippet.source}`, "
                "which is not an article in sources.yaml",
            )
        for position, article_id in enumerate(snippet.also_sources):
            if article_id not in article_ids or article_id == snippet.source:
                yield snippets.problem(
                    ("snippets", index, "also_sources", position),
                    f"snippet `{snippet.id}` lists `{article_id}` under also_sources: it must be "
                    "another article in sources.yaml than its `source`",
                )
        for position, guidance_id in enumerate(snippet.guidance):
            if guidance_id not in guidance_ids:
                yield snippets.problem(
                    ("snippets", index, "guidance", position),
                    f"snippet `{snippet.id}` cites unknown guidance `{guidance_id}`",
                )
        for position, topic_id in enumerate(snippet.topics):
            if topic_id not in topic_ids:
                yield snippets.problem(
                    ("snippets", index, "topics", position),
                    f"snippet `{snippet.id}` has unknown topic `{topic_id}` (not in topics.yaml)",
                )


def check_rule_references(draft: PackDraft) -> Iterator[PackProblem]:
    """Rules point at existing snippets and topics, and numbers cite known sources."""
    sources = draft.get(SOURCES_FILE, SourcesFile).model
    article_ids = {article.id for article in sources.articles}
    guidance_ids = {item.id for item in sources.guidance}
    topic_ids = {topic.id for topic in draft.get(TOPICS_FILE, TopicsFile).model.topics}
    snippet_ids = {s.id for s in draft.get(SNIPPETS_FILE, SnippetsFile).model.snippets}
    rules = draft.get(RULES_FILE, RulesFile)
    for index, rule in enumerate(rules.model.rules):
        for position, snippet_id in enumerate(rule.snippets):
            if snippet_id not in snippet_ids:
                yield rules.problem(
                    ("rules", index, "snippets", position),
                    f"rule `{rule.id}` points at missing snippet `{snippet_id}`",
                )
        if rule.when.mention is not None and rule.when.mention not in topic_ids:
            yield rules.problem(
                ("rules", index, "when", "mention"),
                f"rule `{rule.id}` mentions unknown topic `{rule.when.mention}`",
            )
        if rule.when.has_numeric_threshold and rule.threshold_source is None:
            yield rules.problem(
                ("rules", index, "when"),
                f"rule `{rule.id}` has a numeric threshold but no `threshold_source`",
            )
        if rule.threshold_source is not None:
            cited = [("guidance", g, guidance_ids) for g in rule.threshold_source.guidance]
            cited += [("articles", a, article_ids) for a in rule.threshold_source.articles]
            for kind, source_id, known in cited:
                if source_id not in known:
                    yield rules.problem(
                        ("rules", index, "threshold_source", kind),
                        f"rule `{rule.id}` cites unknown {kind} id `{source_id}`",
                    )


def check_topics_have_snippets(draft: PackDraft) -> Iterator[PackProblem]:
    """A /learn button that opens an empty page would look broken."""
    topics = draft.get(TOPICS_FILE, TopicsFile)
    used = {t for s in draft.get(SNIPPETS_FILE, SnippetsFile).model.snippets for t in s.topics}
    for index, topic in enumerate(topics.model.topics):
        if topic.id not in used:
            yield topics.problem(("topics", index), f"topic `{topic.id}` has no snippets")


def check_general_tips(draft: PackDraft) -> Iterator[PackProblem]:
    """Calm days rotate through general tips, so there must be enough of them."""
    snippets = draft.get(SNIPPETS_FILE, SnippetsFile)
    count = sum(1 for snippet in snippets.model.snippets if snippet.general)
    if count < MIN_GENERAL_TIPS:
        yield snippets.problem(
            ("snippets",),
            f"only {count} snippets have `general: true`; calm days need at least "
            f"{MIN_GENERAL_TIPS} to rotate through",
        )


def check_message_text(draft: PackDraft) -> Iterator[PackProblem]:
    """Rendered snippets fit one Telegram message and never look like an escalation."""
    sources = draft.get(SOURCES_FILE, SourcesFile).model
    articles = {article.id: article for article in sources.articles}
    guidance = {item.id: item for item in sources.guidance}
    snippets = draft.get(SNIPPETS_FILE, SnippetsFile)
    for index, entry in enumerate(snippets.model.snippets):
        for field_name in ("title", "body", "try_this"):
            text = getattr(entry, field_name)
            if text is not None and text.lstrip().startswith(ESCALATION_PREFIXES):
                yield snippets.problem(
                    ("snippets", index, field_name),
                    f"snippet `{entry.id}` starts with an escalation symbol (🚨/⚠️), "
                    "which only escalation messages may use",
                )
        if entry.source not in articles:
            continue  # reported by check_snippet_references; nothing to render with
        snippet = _assemble_snippet(entry, articles, guidance)
        length = len(render_snippet(snippet))
        if length > TELEGRAM_MESSAGE_MAX_CHARS:
            yield snippets.problem(
                ("snippets", index),
                f"text too long: snippet `{entry.id}` renders to {length} characters, "
                f"more than one Telegram message ({TELEGRAM_MESSAGE_MAX_CHARS})",
            )


def _pack_vocabulary(draft: PackDraft) -> frozenset[str]:
    """Every normalised word the snippets and topics use: what a synonym may point at."""
    texts = [
        text
        for snippet in draft.get(SNIPPETS_FILE, SnippetsFile).model.snippets
        for text in (snippet.title, snippet.body, snippet.try_this or "", *snippet.keywords)
    ]
    texts += [
        text
        for topic in draft.get(TOPICS_FILE, TopicsFile).model.topics
        for text in (topic.label, *topic.keywords)
    ]
    return frozenset(token for text in texts for token in normalise(text))


def check_synonyms(draft: PackDraft) -> Iterator[PackProblem]:
    """A synonym must point at words the pack uses, and an everyday word means one thing."""
    synonyms = draft.get(SYNONYMS_FILE, SynonymsFile)
    vocabulary = _pack_vocabulary(draft)
    first_entry: dict[tuple[str, ...], tuple[int, str]] = {}
    for index, entry in enumerate(synonyms.model.synonyms):
        for position, meaning in enumerate(entry.means):
            unknown = [token for token in normalise(meaning) if token not in vocabulary]
            if unknown or not normalise(meaning):
                yield synonyms.problem(
                    ("synonyms", index, "means", position),
                    f"`{meaning}` does not occur in any snippet or topic, so this synonym "
                    "could never help a question find one",
                )
        for position, word in enumerate(entry.words):
            key = phrase_key(word)
            if not key:
                yield synonyms.problem(
                    ("synonyms", index, "words", position), f"`{word}` has no letters or digits"
                )
                continue
            earlier = first_entry.get(key)
            if earlier is not None and earlier[0] != index:
                yield synonyms.problem(
                    ("synonyms", index, "words", position),
                    f"`{word}` is already listed as `{earlier[1]}` in synonyms[{earlier[0]}]; "
                    "an everyday word must mean one thing",
                )
            else:
                first_entry.setdefault(key, (index, word))


PACK_SECTIONS: tuple[PackSection, ...] = (
    PackSection(PACK_FILE, PackMeta),
    PackSection(SOURCES_FILE, SourcesFile),
    PackSection(TOPICS_FILE, TopicsFile),
    PackSection(SNIPPETS_FILE, SnippetsFile),
    PackSection(RULES_FILE, RulesFile),
    PackSection(SYNONYMS_FILE, SynonymsFile),
)

_ALL_CONTENT = (SOURCES_FILE, TOPICS_FILE, SNIPPETS_FILE, RULES_FILE)
PACK_CHECKS: tuple[PackCheck, ...] = (
    PackCheck("duplicate ids", _ALL_CONTENT, check_duplicate_ids),
    PackCheck(
        "snippet references", (SOURCES_FILE, TOPICS_FILE, SNIPPETS_FILE), check_snippet_references
    ),
    PackCheck("rule references", _ALL_CONTENT, check_rule_references),
    PackCheck("topics have snippets", (TOPICS_FILE, SNIPPETS_FILE), check_topics_have_snippets),
    PackCheck("general tips", (SNIPPETS_FILE,), check_general_tips),
    PackCheck("message text", (SOURCES_FILE, SNIPPETS_FILE), check_message_text),
    PackCheck("synonyms", (TOPICS_FILE, SNIPPETS_FILE, SYNONYMS_FILE), check_synonyms),
)


# --- Entry points ---------------------------------------------------------------------------


def _assemble_snippet(
    entry: SnippetEntry, articles: Mapping[str, Article], guidance: Mapping[str, Guidance]
) -> Snippet:
    return Snippet(
        id=entry.id,
        topics=entry.topics,
        title=entry.title,
        body=entry.body,
        try_this=entry.try_this,
        source=articles[entry.source],
        also_sources=tuple(articles[a] for a in entry.also_sources if a in articles),
        guidance=tuple(guidance[g] for g in entry.guidance if g in guidance),
        general=entry.general,
        keywords=entry.keywords,
    )


def _validate_texts(
    texts: Mapping[str, str | None],
    *,
    folder: str,
    sections: Sequence[PackSection],
    checks: Sequence[PackCheck],
) -> tuple[PackDraft, list[PackProblem]]:
    draft = PackDraft()
    problems: list[PackProblem] = []
    for section in sections:
        display = f"{folder}/{section.file_name}" if folder else section.file_name
        text = texts.get(section.file_name)
        if text is None:
            if section.required:
                problems.append(PackProblem(display, "", "file is missing"))
            continue
        parsed, file_problems = parse_file(section.file_name, display, text, section.schema)
        problems.extend(file_problems)
        if parsed is not None:
            draft.files[section.file_name] = parsed
    for check in checks:
        if all(name in draft.files for name in check.requires):
            problems.extend(check.run(draft))
    return draft, problems


def _read_texts(path: Path, sections: Sequence[PackSection]) -> dict[str, str | None]:
    texts: dict[str, str | None] = {}
    for section in sections:
        file_path = path / section.file_name
        texts[section.file_name] = (
            file_path.read_text(encoding="utf-8") if file_path.is_file() else None
        )
    return texts


def check_pack_texts(
    texts: Mapping[str, str | None],
    *,
    folder: str = "",
    sections: Sequence[PackSection] = PACK_SECTIONS,
    checks: Sequence[PackCheck] = PACK_CHECKS,
) -> list[PackProblem]:
    """Validate a pack given as file name -> text (an admin upload), without touching disk."""
    return _validate_texts(texts, folder=folder, sections=sections, checks=checks)[1]


def check_pack(
    path: Path,
    *,
    sections: Sequence[PackSection] = PACK_SECTIONS,
    checks: Sequence[PackCheck] = PACK_CHECKS,
) -> list[PackProblem]:
    """Every problem in the pack folder at `path`; an empty list means the pack is valid."""
    if not path.is_dir():
        return [PackProblem(str(path), "", "not a folder with a content pack")]
    return check_pack_texts(
        _read_texts(path, sections), folder=str(path), sections=sections, checks=checks
    )


def load_pack_texts(texts: Mapping[str, str | None], *, folder: str = "") -> ContentPack:
    """Build a ContentPack from file texts; raises ContentPackError listing every problem."""
    draft, problems = _validate_texts(
        texts, folder=folder, sections=PACK_SECTIONS, checks=PACK_CHECKS
    )
    if problems:
        raise ContentPackError(problems)
    meta = draft.get(PACK_FILE, PackMeta).model
    sources = draft.get(SOURCES_FILE, SourcesFile).model
    articles = {article.id: article for article in sources.articles}
    guidance = {item.id: item for item in sources.guidance}
    entries = draft.get(SNIPPETS_FILE, SnippetsFile).model.snippets
    synonyms = draft.get(SYNONYMS_FILE, SynonymsFile).model.synonyms
    return ContentPack(
        meta=meta,
        articles=sources.articles,
        guidance=sources.guidance,
        topics=draft.get(TOPICS_FILE, TopicsFile).model.topics,
        snippets=tuple(_assemble_snippet(entry, articles, guidance) for entry in entries),
        rules=draft.get(RULES_FILE, RulesFile).model.rules,
        synonyms=synonyms,
    )


def load_pack(path: Path) -> ContentPack:
    """Load the pack folder at `path`; raises ContentPackError when check_pack finds problems."""
    if not path.is_dir():
        raise ContentPackError([PackProblem(str(path), "", "not a folder with a content pack")])
    return load_pack_texts(_read_texts(path, PACK_SECTIONS), folder=str(path))


def run_content_check(path: Path, out: TextIO = sys.stdout) -> int:
    """`twitchcheck content check PATH`: print every problem; exit code 0 only for a valid pack."""
    problems = check_pack(path)
    if problems:
        print(format_problems(problems), file=out)
        return 1
    pack = load_pack(path)
    print(
        f"{path}: content pack {pack.version} is valid "
        f"({len(pack.snippets)} snippets, {len(pack.rules)} rules, {len(pack.topics)} topics).",
        file=out,
    )
    return 0
