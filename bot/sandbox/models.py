"""Records kept by the sandbox and the text-formatting rules Telegram applies to bot messages.

The records are what tests look at: every API call in arrival order, every bot message with
its edits applied. The formatting parser exists so the sandbox rejects what Telegram rejects
(unescaped ``<`` in HTML, unclosed tags, reserved MarkdownV2 characters) and counts message
length the way Telegram does, after the markup is removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64


@dataclass(frozen=True)
class UploadedFile:
    """One multipart file part of a request (a document, a photo, a thumbnail...)."""

    field_name: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request as the sandbox received it; ``seq`` is its arrival order."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    seq: int


@dataclass
class SentMessage:
    """A message the bot sent, as the user currently sees it (edits applied).

    ``text`` and ``caption`` are kept exactly as the bot sent them (markup included);
    ``plain_text`` is what the user reads. For photo messages ``document`` holds the
    uploaded image. ``seq`` is the call that created the message, ``updated_seq`` the
    last call that changed it (edit or delete).
    """

    message_id: int
    chat_id: int
    text: str | None
    reply_markup: dict[str, Any] | None
    kind: str
    document: UploadedFile | None
    caption: str | None
    edits: int = 0
    deleted: bool = False
    parse_mode: str | None = None
    entities: list[dict[str, Any]] | None = None
    seq: int = -1
    updated_seq: int = -1
    date: int = 0
    edit_date: int | None = None

    def buttons(self) -> list[list[tuple[str, str]]]:
        """Inline keyboard rows as (text, callback_data); URL and other buttons are skipped."""
        if not self.reply_markup:
            return []
        rows: list[list[tuple[str, str]]] = []
        for row in self.reply_markup.get("inline_keyboard", []):
            buttons = [
                (str(button.get("text", "")), str(button["callback_data"]))
                for button in row
                if isinstance(button, dict) and "callback_data" in button
            ]
            if buttons:
                rows.append(buttons)
        return rows

    def reply_keyboard(self) -> list[list[str]]:
        """Rows of a reply keyboard (buttons that send their text); [] if none."""
        if not self.reply_markup:
            return []
        rows: list[list[str]] = []
        for row in self.reply_markup.get("keyboard", []):
            texts = [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
            if texts:
                rows.append(texts)
        return rows

    @property
    def plain_text(self) -> str:
        """Text (or caption) as the user sees it, markup removed."""
        source = self.text if self.kind == "text" else self.caption
        if not source:
            return ""
        try:
            return parse_formatted_text(source, self.parse_mode, self.entities).text
        except TextFormatError:
            return source


@dataclass(frozen=True)
class FormattedText:
    """Text after markup parsing, with Telegram entities (offsets in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


class TextFormatError(ValueError):
    """Markup Telegram would refuse with "Bad Request: can't parse entities: ..."."""


def utf16_length(text: str) -> int:
    """Length as Telegram counts entity offsets."""
    return len(text.encode("utf-16-le")) // 2


_SIMPLE_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_HTML_TAGS = {*_SIMPLE_HTML_TAGS, "a", "span", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+);")
_ATTRIBUTE_RE = re.compile(
    r"""\s*([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?"""
)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(match: re.Match[str]) -> str | None:
    body = match.group(1)
    if body.startswith("#x"):
        return chr(int(body[2:], 16)) if int(body[2:], 16) <= 0x10FFFF else None
    if body.startswith("#"):
        return chr(int(body[1:])) if int(body[1:]) <= 0x10FFFF else None
    return _NAMED_ENTITIES.get(body.lower())


def _parse_html(source: str) -> FormattedText:
    """Parse Telegram's HTML subset the way TDLib does, including its error messages."""
    out: list[str] = []
    out_len = 0  # UTF-16 units written so far
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&":
            match = _ENTITY_RE.match(source, i)
            decoded = _decode_entity(match) if match else None
            if match and decoded is not None:
                out.append(decoded)
                out_len += utf16_length(decoded)
                i = match.end()
                continue
            out.append(char)
            out_len += 1
            i += 1
            continue
        if char != "<":
            out.append(char)
            out_len += utf16_length(char)
            i += 1
            continue
        begin = i
        if source.startswith("</", i):
            close = source.find(">", i)
            if close == -1:
                raise TextFormatError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, begin)}"
                )
            name = source[i + 2 : close].strip().lower()
            i = close + 1
            if not stack:
                raise TextFormatError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            open_name, start, open_attributes = stack.pop()
            if name != open_name:
                raise TextFormatError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            entity = _html_entity(open_name, open_attributes, start, out_len - start)
            if entity is not None:
                entities.append(entity)
            continue
        i += 1
        while i < len(source) and not source[i].isspace() and source[i] != ">":
            i += 1
        if i == len(source):
            raise TextFormatError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        name = source[begin + 1 : i].lower()
        if name not in _HTML_TAGS:
            raise TextFormatError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        close = source.find(">", i)
        if close == -1:
            raise TextFormatError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        attributes: dict[str, str] = {}
        for attr in _ATTRIBUTE_RE.finditer(source[i:close]):
            value = next((v for v in attr.groups()[1:] if v is not None), "")
            attributes[attr.group(1).lower()] = value
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise TextFormatError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        stack.append((name, out_len, attributes))
        i = close + 1
    if stack:
        raise TextFormatError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return FormattedText("".join(out), entities)


def _html_entity(
    name: str, attributes: dict[str, str], offset: int, length: int
) -> dict[str, Any] | None:
    if length <= 0:
        return None
    entity: dict[str, Any] = {"offset": offset, "length": length}
    if name == "a":
        entity.update(type="text_link", url=attributes.get("href", ""))
    elif name == "span":
        entity["type"] = "spoiler"
    elif name == "tg-emoji":
        entity.update(type="custom_emoji", custom_emoji_id=attributes.get("emoji-id", ""))
    elif name == "blockquote" and "expandable" in attributes:
        entity["type"] = "expandable_blockquote"
    else:
        entity["type"] = _SIMPLE_HTML_TAGS[name]
    return entity


_MARKDOWN_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_MARKERS = {"*", "_", "~", "`", "|"}


def _parse_markdown_v2(source: str) -> FormattedText:
    """Strip MarkdownV2 markup and refuse unescaped reserved characters, as Telegram does.

    Entities are not reconstructed; the result serves length checks and display.
    """
    out: list[str] = []
    i = 0
    link_depth = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source):
            out.append(source[i + 1])
            i += 2
            continue
        if char in _MARKDOWN_V2_MARKERS:
            i += 1
            continue
        if char == "[":
            link_depth += 1
            i += 1
            continue
        if char == "]" and link_depth:
            link_depth -= 1
            if source.startswith("(", i + 1):
                close = source.find(")", i + 2)
                if close == -1:
                    raise TextFormatError("Can't find end of a URL")
                i = close + 1
            else:
                i += 1
            continue
        if char in _MARKDOWN_V2_RESERVED:
            raise TextFormatError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(char)
        i += 1
    return FormattedText("".join(out))


def _parse_legacy_markdown(source: str) -> FormattedText:
    return FormattedText(re.sub(r"[*_`\[]|\]\([^)]*\)", "", source))


def parse_formatted_text(
    source: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> FormattedText:
    """Text and entities the user will see for ``source`` sent with ``parse_mode``."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _parse_html(source)
    if mode == "markdownv2":
        return _parse_markdown_v2(source)
    if mode == "markdown":
        return _parse_legacy_markdown(source)
    if mode:
        raise TextFormatError(f'Unsupported parse_mode "{parse_mode}"')
    return FormattedText(source, list(entities or []))
