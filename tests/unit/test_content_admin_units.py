"""Pack diffing, weaker-red-flag detection and the upload defences (no database)."""

from __future__ import annotations

import io
import zipfile

import pytest

from bot.content_files import bundle_from_files, pack_problems, read_folder
from bot.content_upload import (
    MAX_FILE_BYTES,
    MAX_UPLOAD_BYTES,
    UploadRefused,
    check_declared_size,
    unpack_upload,
    unpack_zip,
)
from bot.content_view import pack_view, red_flag_strength
from bot.domain.content_diff import FlagStrength, RedFlagStrength, diff_packs, weakening
from bot.paths import CONTENT_DIR

FILES = read_folder(CONTENT_DIR)


def _zip(entries: dict[str, bytes | str], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- zip defences ------------------------------------------------------------------------


def test_a_whole_pack_zip_unpacks_to_its_files_in_a_folder_or_not() -> None:
    assert unpack_zip(_zip(dict(FILES))) == FILES
    assert unpack_zip(_zip({f"content/{k}": v for k, v in FILES.items()})) == FILES


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../snippets.yaml", "outside the pack"),
        ("/etc/snippets.yaml", "absolute"),
        ("C:/snippets.yaml", "absolute"),
        ("a\\..\\snippets.yaml", "Windows"),
        ("a/b/snippets.yaml", "nested too deep"),
        ("evil.py", "not a content pack file"),
    ],
)
def test_unsafe_entry_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(UploadRefused, match=reason):
        unpack_zip(_zip({name: "x"}))


def test_a_zip_bomb_is_refused_from_its_directory() -> None:
    bomb = _zip({"snippets.yaml": b"a" * (MAX_FILE_BYTES + 10)})
    assert len(bomb) < 10_000
    with pytest.raises(UploadRefused, match="unpacks to"):
        unpack_zip(bomb)
    ratio = _zip({"snippets.yaml": b"a" * 200_000})
    with pytest.raises(UploadRefused, match="compressed suspiciously well"):
        unpack_zip(ratio)


def test_a_symlink_entry_and_too_many_entries_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("snippets.yaml")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(UploadRefused, match="symbolic link"):
        unpack_zip(buffer.getvalue())
    with pytest.raises(UploadRefused, match="entries"):
        unpack_zip(_zip({f"messages_x{i}.yaml": "messages: {}" for i in range(65)}))


def test_size_and_name_are_checked_before_download() -> None:
    with pytest.raises(UploadRefused, match="at most"):
        check_declared_size("pack.zip", MAX_UPLOAD_BYTES + 1)
    with pytest.raises(UploadRefused, match="not a content pack"):
        check_declared_size("notes.pdf", 10)
    check_declared_size("snippets.yml", 10)


def test_garbage_and_non_utf8_are_refused() -> None:
    with pytest.raises(UploadRefused, match="not a readable"):
        unpack_zip(b"PK\x03\x04 not really")
    with pytest.raises(UploadRefused, match="UTF-8"):
        unpack_zip(_zip({"snippets.yaml": b"\xff\xfe bad"}))


def test_one_yaml_file_replaces_that_file_of_the_live_pack() -> None:
    unpacked = unpack_upload("rules.yml", b"rules: []\n", FILES)
    assert unpacked.files["rules.yaml"] == "rules: []\n"
    assert unpacked.files["snippets.yaml"] == FILES["snippets.yaml"]
    assert unpacked.replaced == ("rules.yaml",) and "snippets.yaml" in unpacked.kept_from_live
    with pytest.raises(UploadRefused, match="not one of the pack's files"):
        unpack_upload("passwords.yaml", b"a: 1", FILES)


# --- validation --------------------------------------------------------------------------


def test_validation_names_file_and_line_and_the_messages_the_bot_needs() -> None:
    shipped = bundle_from_files(FILES)
    assert pack_problems(FILES, running=shipped.texts) == []
    broken = {**FILES, "snippets.yaml": FILES["snippets.yaml"].replace("source: ", "sauce: ", 1)}
    [problem, *_] = pack_problems(broken)
    assert problem.file == "snippets.yaml" and problem.line is not None
    no_help = {**FILES, "messages.yaml": FILES["messages.yaml"].replace("\n  help:", "\n  helpx:")}
    problems = pack_problems(no_help, running=shipped.texts)
    assert [p.location for p in problems] == ["messages.help"]
    new_field = {
        **FILES,
        "messages_updates.yaml": FILES["messages_updates.yaml"].replace(
            "I don't know that command.", "I don't know {command}."
        ),
    }
    [field] = pack_problems(new_field, running=shipped.texts)
    assert "{command}" in field.message


# --- diff and weaker red flags -----------------------------------------------------------


def test_diff_shows_before_and_after_of_what_people_see() -> None:
    old = bundle_from_files(FILES)
    edited = dict(FILES)
    edited["rules.yaml"] = FILES["rules.yaml"].replace(
        "sleep_hours_below: 7}", "sleep_hours_below: 6.5}"
    )
    edited["messages.yaml"] = FILES["messages.yaml"].replace("Welcome back!", "Hello again!")
    new = bundle_from_files(edited)
    diff = diff_packs(pack_view(old, FILES), pack_view(new, edited))
    changed = {(c.section, c.id) for c in diff.changes}
    assert ("messages", "welcome_back") in changed
    [welcome] = [c for c in diff.changes if c.id == "welcome_back"]
    assert "Welcome back!" in (welcome.before or "") and "Hello again!" in (welcome.after or "")
    assert [(t.condition, t.before, t.after) for t in diff.thresholds] == [
        ("sleep_hours_below", "7.0", "6.5")
    ]
    assert diff.weaker == ()
    assert diff_packs(pack_view(old, FILES), pack_view(old, FILES)).empty


def test_removed_topic_warns_about_buttons_people_have() -> None:
    old = pack_view(bundle_from_files(FILES), FILES)
    new = pack_view(bundle_from_files(FILES), FILES)
    trimmed = type(new)(
        version=new.version,
        sections=new.sections,
        thresholds=new.thresholds,
        button_ids={**new.button_ids, "topics": new.button_ids["topics"] - {"sleep"}},
        red_flags=new.red_flags,
    )
    assert "/learn topic `sleep`" in diff_packs(old, trimmed).vanishing_buttons


def test_weaker_red_flags_are_detected_and_stronger_are_not() -> None:
    base = RedFlagStrength(
        flags={"chest_pain": FlagStrength(2, frozenset({"a", "b"}))},
        terms={"twitch": frozenset({"twitch", "jerk"})},
        screen={"chest": frozenset({"chest_pain"})},
    )
    stronger = RedFlagStrength(
        flags={"chest_pain": FlagStrength(2, frozenset({"a", "b", "c"})), "x": FlagStrength(1)},
        terms={"twitch": frozenset({"twitch", "jerk", "flicker"})},
        screen={"chest": frozenset({"chest_pain"}), "x": frozenset({"x"})},
    )
    assert weakening(base, stronger) == []
    assert weakening(base, RedFlagStrength()) == [
        "red flag `chest_pain` removed",
        "vocabulary `twitch` loses 2 word(s)",
        "safety-check option `chest` removed",
    ]
    lowered = RedFlagStrength(
        flags={"chest_pain": FlagStrength(1, frozenset({"a"}), frozenset({"idiom"}))},
        terms=base.terms,
        screen={"chest": frozenset()},
    )
    assert weakening(base, lowered) == [
        "red flag `chest_pain` lowered from tier 2 to 1",
        "red flag `chest_pain` loses 1 phrase(s)",
        "red flag `chest_pain` gains 1 exclusion(s)",
        "safety-check option `chest` no longer ticks 1 sign(s)",
    ]


def test_the_shipped_red_flags_minus_one_phrase_are_weaker() -> None:
    text = FILES["redflags.yaml"]
    fewer = text.replace("      - 'air hunger'\n", "", 1)
    assert fewer != text
    assert weakening(red_flag_strength(text), red_flag_strength(fewer)) == [
        "red flag `trouble_breathing` loses 1 phrase(s)"
    ]
