"""The shipped content pack is valid, sourced and in our own words; broken packs are caught."""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.contentpack import (
    RULES_FILE,
    SNIPPET_BODY_MAX_CHARS,
    SNIPPETS_FILE,
    SOURCES_FILE,
    SYNONYMS_FILE,
    TELEGRAM_MESSAGE_MAX_CHARS,
    TOPICS_FILE,
    ContentPack,
    ContentPackError,
    PackProblem,
    check_pack,
    check_pack_texts,
    format_problems,
    load_pack,
    run_content_check,
)
from bot.domain.snippets import render_snippet
from bot.paths import CONTENT_DIR

SEEDS_DIR = Path(
    os.environ.get("TWITCHCHECK_SEEDS_DIR")
    or Path(__file__).resolve().parents[3] / "shared" / "seeds"
)
COPY_RUN_WORDS = 8


@pytest.fixture(autouse=True)
def _seeds_present(request: pytest.FixtureRequest) -> None:
    """The source articles live beside the repository (../shared/seeds), as on CI.

    Without them the source checks cannot run: skipped on a developer machine that lacks them,
    failed on CI (CI=true), so a missing folder can never make them pass silently.
    """
    if "seeds" not in request.keywords or SEEDS_DIR.joinpath("README.md").is_file():
        return
    message = f"source articles not found in {SEEDS_DIR} (set TWITCHCHECK_SEEDS_DIR)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def pack() -> ContentPack:
    return load_pack(CONTENT_DIR)


def _words(text: str) -> list[str]:
    """Case and punctuation do not make a copied sentence original."""
    return re.findall(r"[a-z0-9]+", text.casefold().replace("’", "").replace("'", ""))


def _seed_table() -> dict[str, str]:
    """file name -> title, from the seeds README table."""
    rows = re.findall(
        r"^\| (\d{3}_[0-9a-f]+\.txt) \| (.+?) \|$", (SEEDS_DIR / "README.md").read_text(), re.M
    )
    return dict(rows)


# --- The shipped pack -----------------------------------------------------------------------


def test_shipped_pack_has_no_problems() -> None:
    assert check_pack(CONTENT_DIR) == []


def test_shipped_pack_loads_with_version(pack: ContentPack) -> None:
    assert re.fullmatch(r"\d{4}\.\d{2}\.\d{2}-\d+", pack.version)
    assert 35 <= len(pack.snippets) <= 60
    assert len(pack.general_tips()) >= 8


@pytest.mark.seeds
def test_sources_are_the_seed_articles(pack: ContentPack) -> None:
    table = _seed_table()
    assert {article.file for article in pack.articles} == set(table)
    for article in pack.articles:
        assert table[article.file].startswith(article.title.rstrip("?")), article.file
        assert (SEEDS_DIR / article.file).is_file()


@pytest.mark.seeds
def test_every_snippet_names_a_seed_article(pack: ContentPack) -> None:
    table = _seed_table()
    for snippet in pack.snippets:
        assert snippet.source.file in table
        rendered = render_snippet(snippet)
        assert snippet.source.file in rendered
        assert "Source: <i>" in rendered


@pytest.mark.seeds
def test_no_run_of_eight_words_copied_from_the_seeds(pack: ContentPack) -> None:
    seed_runs: set[tuple[str, ...]] = set()
    for seed in SEEDS_DIR.glob("*.txt"):
        words = _words(seed.read_text(encoding="utf-8"))
        seed_runs.update(
            tuple(words[i : i + COPY_RUN_WORDS]) for i in range(len(words) - COPY_RUN_WORDS + 1)
        )
    assert len(seed_runs) > 1000, "the seed articles were not read"
    copied = []
    for snippet in pack.snippets:
        for field_name in ("title", "body", "try_this"):
            words = _words(getattr(snippet, field_name) or "")
            for i in range(len(words) - COPY_RUN_WORDS + 1):
                if tuple(words[i : i + COPY_RUN_WORDS]) in seed_runs:
                    copied.append(f"{snippet.id}.{field_name}: {' '.join(words[i : i + 8])}")
    assert copied == []


@pytest.mark.seeds
def test_the_copy_check_would_catch_a_pasted_sentence() -> None:
    """Guards the test above: a sentence lifted from a seed must produce a run."""
    seed_words = _words((SEEDS_DIR / "004_97542991a41b9465.txt").read_text(encoding="utf-8"))
    pasted = " ".join(seed_words[200:212]).upper() + "!"
    runs = {tuple(seed_words[i : i + 8]) for i in range(len(seed_words) - 7)}
    pasted_words = _words(pasted)
    assert any(tuple(pasted_words[i : i + 8]) in runs for i in range(len(pasted_words) - 7))


REQUIRED_SUBJECTS = {
    "magnesium": ("magnesium",),
    "calcium": ("calcium",),
    "potassium": ("potassium",),
    "vitamin_d": ("vitamin d",),
    "b_vitamins": ("b12", "b6", "b1"),
    "hydration": ("sodium", "electrolyte", "water"),
    "stress": ("stress", "anxiety"),
    "stimulants": ("caffeine", "nicotine"),
    "sleep": ("sleep",),
    "exercise": ("exercise",),
    "medicines": ("diuretic", "corticosteroid", "inhaler", "proton pump"),
    "food": ("leafy greens", "banana", "fatty fish"),
    "supplements": ("supplement", "doctor"),
    "testing": ("blood test", "serum", "red blood cell"),
    "cramps": ("cramp",),
    "see_doctor": ("weakness", "numbness", "coordination", "swallowing"),
}


@pytest.mark.parametrize("topic_id", sorted(REQUIRED_SUBJECTS))
def test_every_subject_of_the_articles_is_covered(pack: ContentPack, topic_id: str) -> None:
    snippets = pack.snippets_for_topic(topic_id)
    text = " ".join(f"{s.title} {s.body}".casefold() for s in snippets)
    missing = [term for term in REQUIRED_SUBJECTS[topic_id] if term not in text]
    assert snippets and missing == []


def test_serum_magnesium_caveat_is_explained(pack: ContentPack) -> None:
    body = pack.snippet("serum_magnesium_limits").body.casefold()
    assert "normal" in body and "bones" in body


def _body(pack: ContentPack, snippet_id: str) -> str:
    return pack.snippet(snippet_id).body.casefold()


def test_electrolyte_panel_names_what_a_standard_panel_measures(pack: ContentPack) -> None:
    body = _body(pack, "electrolyte_panel")
    assert all(word in body for word in ("sodium", "potassium", "chloride", "bicarbonate"))
    assert "separate" in body and "calcium and magnesium" in body
    assert "first check" not in body


def test_vitamin_d_snippets_agree_on_how_sure_the_link_is(pack: ContentPack) -> None:
    for snippet_id in ("vitamin_d_low_signs", "vitamin_d_calcium"):
        body = _body(pack, snippet_id)
        assert "recognised cause" not in body and "recognized cause" not in body
        assert "debated" in body or "argued about" in body


def test_exercise_twitches_drop_lactic_acid_and_usually_pass(pack: ContentPack) -> None:
    snippet = pack.snippet("exercise_twitches")
    assert "lactic" not in snippet.body.casefold()
    assert "lactic acid" not in snippet.keywords
    assert "usually passes" in snippet.body


@pytest.mark.parametrize(
    "snippet_id", ["severe_deficiency_signs", "calcium_low_signs", "calcium_contraction"]
)
def test_severe_signs_give_the_same_action_as_the_red_flag_tiers(
    pack: ContentPack, snippet_id: str
) -> None:
    """Seizures and locked spasms are emergencies (112 / 999 / 911), as in redflags.yaml."""
    body = _body(pack, snippet_id)
    assert "seizure" in body and "lock" in body and "emergency" in body
    assert all(number in body for number in ("112", "999", "911"))
    assert "around the mouth" in body


def test_irregular_heartbeat_action_matches_the_tiers(pack: ContentPack) -> None:
    body = _body(pack, "severe_deficiency_signs")
    assert "within days" in body
    assert "chest pain, dizziness or fainting" in body


def test_what_is_a_twitch_asks_to_look_back_at_check_in_not_to_watch_all_day(
    pack: ContentPack,
) -> None:
    try_this = (pack.snippet("what_is_a_twitch").try_this or "").casefold()
    assert try_this.startswith("at check-in, think back over the day")


def test_food_or_pills_says_it_compares_magnesium(pack: ContentPack) -> None:
    snippet = pack.snippet("food_or_pills")
    assert "magnesium" in snippet.title.casefold() and "magnesium" in snippet.body.casefold()


@pytest.mark.parametrize(
    ("snippet_id", "guidance_id"),
    [
        ("anxiety_loop", "nhs_twitching"),
        ("sleep_routine", "nhs_sleep"),
        ("twitch_vs_cramp", "nhs_twitching"),
        ("nicotine_stimulant", "nhs_stop_smoking"),
        ("alcohol_and_magnesium", "nhs_twitching"),
        ("electrolyte_panel", "medlineplus_electrolyte_panel"),
        ("supplement_safety", "nhs_vitamins_minerals"),
        ("vitamin_d_winter", "nhs_vitamins_minerals"),
        ("fear_of_als", "nhs_twitching"),
    ],
)
def test_advice_beyond_the_articles_cites_its_public_guidance(
    pack: ContentPack, snippet_id: str, guidance_id: str
) -> None:
    snippet = pack.snippet(snippet_id)
    assert guidance_id in {g.id for g in snippet.guidance}
    rendered = render_snippet(snippet)
    assert "Guidance: <i>" in rendered and "Source: <i>" in rendered


@pytest.mark.parametrize(
    ("snippet_id", "also"),
    [
        ("potassium_foods", {"nutritional_triggers", "mineral_deficiency"}),
        ("other_b_vitamins", {"vitamin_deficiency"}),
        ("alcohol_and_magnesium", {"mineral_deficiency"}),
    ],
)
def test_facts_from_a_second_article_name_it(
    pack: ContentPack, snippet_id: str, also: set[str]
) -> None:
    snippet = pack.snippet(snippet_id)
    assert {article.id for article in snippet.also_sources} == also
    rendered = render_snippet(snippet)
    assert all(f"Also from: <i>{a.title}</i> ({a.file})" in rendered for a in snippet.also_sources)


def test_supplement_safety_covers_kidneys_upper_limits_and_b6(pack: ContentPack) -> None:
    body = _body(pack, "supplement_safety")
    assert "kidney" in body and "400 mg" in body
    assert "b6" in body and "10 mg" in body and "loss of feeling" in body


def test_vitamin_d_in_winter(pack: ContentPack) -> None:
    body = _body(pack, "vitamin_d_winter")
    assert "october" in body and "10 micrograms" in body and "100 micrograms" in body


def test_water_question_counts_what_the_fluid_guidance_counts(pack: ContentPack) -> None:
    """The low-water rule cites guidance on all fluids, so the question asks about all drinks."""
    questions = yaml.safe_load((CONTENT_DIR / "questions.yaml").read_text(encoding="utf-8"))
    [water] = [q for q in questions["questions"] if q["id"] == "water"]
    assert "other drinks" in water["text"]
    low_water = next(rule for rule in pack.rules if rule.id == "low_water")
    assert low_water.threshold_source is not None
    assert "fluids_6_to_8_glasses" in low_water.threshold_source.guidance


def test_also_sources_must_be_other_known_articles(pack_copy: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        first = data["snippets"][0]
        first["also_sources"] = [first["source"], "no_such_article"]

    _edit_yaml(pack_copy, SNIPPETS_FILE, edit)
    problems = check_pack(pack_copy)
    assert [p.location for p in problems] == [
        "snippets[0].also_sources[0]",
        "snippets[0].also_sources[1]",
    ]


def test_texts_fit_a_phone_screen_and_a_message(pack: ContentPack) -> None:
    for snippet in pack.snippets:
        assert len(snippet.body) <= SNIPPET_BODY_MAX_CHARS
        assert len(render_snippet(snippet)) <= TELEGRAM_MESSAGE_MAX_CHARS


def test_no_snippet_looks_like_an_escalation(pack: ContentPack) -> None:
    for snippet in pack.snippets:
        for text in (snippet.title, snippet.body, snippet.try_this or ""):
            assert not text.startswith(("🚨", "⚠")), snippet.id


def test_thresholds_name_their_sources(pack: ContentPack) -> None:
    by_id = {rule.id: rule for rule in pack.rules}
    caffeine = by_id["much_caffeine"]
    assert caffeine.when.caffeine_mg_at_least == 300
    assert caffeine.threshold_source is not None
    assert "caffeine_400mg" in caffeine.threshold_source.guidance
    assert caffeine.threshold_source.articles  # the seeds that call caffeine a trigger
    assert by_id["short_sleep"].threshold_source is not None
    assert by_id["low_water"].threshold_source is not None


def test_topics_list_every_snippet_in_learn_order(pack: ContentPack) -> None:
    listed = {s.id for topic in pack.topics for s in pack.snippets_for_topic(topic.id)}
    assert listed == {s.id for s in pack.snippets}
    magnesium = pack.snippets_for_topic("magnesium")
    assert magnesium[0].topics[0] == "magnesium"


def test_content_check_command_reports_valid_pack() -> None:
    out = io.StringIO()
    assert run_content_check(CONTENT_DIR, out) == 0
    assert "is valid" in out.getvalue()


# --- Broken packs ---------------------------------------------------------------------------


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(CONTENT_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit_yaml(folder: Path, file_name: str, edit: Callable[[dict[str, Any]], object]) -> None:
    path = folder / file_name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _only(problems: list[PackProblem]) -> PackProblem:
    assert len(problems) == 1, format_problems(problems)
    return problems[0]


def test_schema_error_names_file_location_and_line(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, RULES_FILE, lambda d: d["rules"][2].update(priority="high"))
    problem = _only(check_pack(pack_copy))
    assert problem.file.endswith(RULES_FILE)
    assert problem.location == "rules[2].priority"
    assert problem.line is not None
    line_text = (pack_copy / RULES_FILE).read_text().splitlines()[problem.line - 1]
    assert "high" in line_text
    assert "integer" in problem.message


def test_unknown_field_is_reported(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, SNIPPETS_FILE, lambda d: d["snippets"][0].update(tryThis="x"))
    problem = _only(check_pack(pack_copy))
    assert problem.location == "snippets[0].tryThis"
    assert "unknown field" in problem.message


def test_duplicate_snippet_id(pack_copy: Path) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        data["snippets"][5]["id"] = data["snippets"][1]["id"]

    _edit_yaml(pack_copy, SNIPPETS_FILE, duplicate)
    problems = check_pack(pack_copy)
    duplicates = [p for p in problems if "duplicate id" in p.message]
    assert len(duplicates) == 1
    assert duplicates[0].location == "snippets[5].id"
    assert "first used at snippets[1]" in duplicates[0].message


def test_synonym_pointing_at_a_word_the_pack_never_uses(pack_copy: Path) -> None:
    _edit_yaml(
        pack_copy,
        SYNONYMS_FILE,
        lambda d: d["synonyms"].append({"means": ["quinoa"], "words": ["keen-wah"]}),
    )
    problem = _only(check_pack(pack_copy))
    assert problem.file.endswith(SYNONYMS_FILE)
    assert problem.location.endswith(".means[0]") and problem.line is not None
    assert "`quinoa` does not occur" in problem.message


def test_everyday_word_listed_for_two_meanings(pack_copy: Path) -> None:
    """ "Lattes" and "latte" are the same word once stemmed: one meaning only."""
    _edit_yaml(
        pack_copy,
        SYNONYMS_FILE,
        lambda d: d["synonyms"].append({"means": ["sleep"], "words": ["lattes"]}),
    )
    problem = _only(check_pack(pack_copy))
    assert "`lattes` is already listed as `latte`" in problem.message


def test_missing_synonyms_file(pack_copy: Path) -> None:
    (pack_copy / SYNONYMS_FILE).unlink()
    problem = _only(check_pack(pack_copy))
    assert problem.file.endswith(SYNONYMS_FILE) and problem.message == "file is missing"


def test_snippet_without_source(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, SNIPPETS_FILE, lambda d: d["snippets"][3].pop("source"))
    problem = _only(check_pack(pack_copy))
    assert problem.file.endswith(SNIPPETS_FILE)
    assert problem.location == "snippets[3].source"
    assert "no source" in problem.message


def test_snippet_with_unknown_source(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, SNIPPETS_FILE, lambda d: d["snippets"][3].update(source="blog_post"))
    problem = _only(check_pack(pack_copy))
    assert problem.location == "snippets[3].source"
    assert "blog_post" in problem.message and SOURCES_FILE in problem.message


def test_rule_pointing_at_missing_snippet(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, RULES_FILE, lambda d: d["rules"][1]["snippets"].append("no_such_tip"))
    problem = _only(check_pack(pack_copy))
    assert problem.file.endswith(RULES_FILE)
    assert problem.location.startswith("rules[1].snippets[")
    assert "missing snippet `no_such_tip`" in problem.message


def test_body_too_long(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, SNIPPETS_FILE, lambda d: d["snippets"][2].update(body="word " * 200))
    problem = _only(check_pack(pack_copy))
    assert problem.location == "snippets[2].body"
    assert "too long" in problem.message and "600" in problem.message


def test_unknown_topic(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, SNIPPETS_FILE, lambda d: d["snippets"][0]["topics"].append("astrology"))
    problem = _only(check_pack(pack_copy))
    assert problem.location == "snippets[0].topics[1]"
    assert "unknown topic `astrology`" in problem.message


def test_rule_mentioning_unknown_topic(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, RULES_FILE, lambda d: d["rules"][2]["when"].update(mention="weather"))
    problem = _only(check_pack(pack_copy))
    assert problem.location == "rules[2].when.mention"


def test_numeric_threshold_needs_a_source(pack_copy: Path) -> None:
    def drop_source(data: dict[str, Any]) -> None:
        rule = next(r for r in data["rules"] if r["id"] == "much_caffeine")
        del rule["threshold_source"]

    _edit_yaml(pack_copy, RULES_FILE, drop_source)
    problem = _only(check_pack(pack_copy))
    assert "no `threshold_source`" in problem.message


@pytest.mark.parametrize("mg", [285, 400])
def test_a_second_caffeine_threshold_is_refused(pack_copy: Path, mg: int) -> None:
    """/insights and the rules share one "a lot of caffeine" number."""

    def change(data: dict[str, Any]) -> None:
        rule = next(r for r in data["rules"] if r["id"] == "much_caffeine")
        rule["when"]["caffeine_mg_at_least"] = mg

    _edit_yaml(pack_copy, RULES_FILE, change)
    problem = _only(check_pack(pack_copy))
    assert problem.location.endswith("when.caffeine_mg_at_least")
    assert "must be 300" in problem.message


def test_topic_without_snippets(pack_copy: Path) -> None:
    _edit_yaml(
        pack_copy,
        TOPICS_FILE,
        lambda d: d["topics"].append({"id": "gardening", "label": "Gardening"}),
    )
    problem = _only(check_pack(pack_copy))
    assert "topic `gardening` has no snippets" in problem.message


def test_escalation_symbol_is_reserved(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, SNIPPETS_FILE, lambda d: d["snippets"][4].update(title="🚨 Act now"))
    problem = _only(check_pack(pack_copy))
    assert problem.location == "snippets[4].title"


def test_yaml_syntax_error_has_a_line(pack_copy: Path) -> None:
    path = pack_copy / TOPICS_FILE
    text = path.read_text()
    path.write_text(text.replace("label: Magnesium\n", "label: [Magnesium\n"))
    problem = _only(check_pack(pack_copy))
    assert problem.file.endswith(TOPICS_FILE)
    assert "not valid YAML" in problem.message
    broken_line = text.splitlines().index("    label: Magnesium") + 1
    assert problem.line is not None and broken_line <= problem.line <= broken_line + 2


def test_duplicate_yaml_key(pack_copy: Path) -> None:
    path = pack_copy / "pack.yaml"
    path.write_text(path.read_text() + 'version: "2026.11.23-1"\n')
    problem = _only(check_pack(pack_copy))
    assert "duplicate key `version`" in problem.message


def test_missing_file(pack_copy: Path) -> None:
    (pack_copy / RULES_FILE).unlink()
    problem = _only(check_pack(pack_copy))
    assert problem.file.endswith(RULES_FILE)
    assert problem.message == "file is missing"


def test_every_problem_is_reported_at_once(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, SNIPPETS_FILE, lambda d: d["snippets"][0]["topics"].append("astrology"))
    _edit_yaml(pack_copy, RULES_FILE, lambda d: d["rules"][0]["snippets"].append("gone"))
    (pack_copy / "pack.yaml").write_text('version: "tuesday"\ntitle: x\n')
    problems = check_pack(pack_copy)
    assert {Path(p.file).name for p in problems} == {"pack.yaml", SNIPPETS_FILE, RULES_FILE}
    text = format_problems(problems)
    assert text.endswith("3 problems found.")
    assert f"{pack_copy}/{RULES_FILE}:" in text


def test_files_owned_by_others_are_ignored(pack_copy: Path) -> None:
    (pack_copy / "redflags.yaml").write_text("this: [is not: ours")
    (pack_copy / "messages.yaml").write_text("anything: goes\n")
    assert check_pack(pack_copy) == []


def test_load_pack_refuses_a_broken_pack(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, SNIPPETS_FILE, lambda d: d["snippets"][3].pop("source"))
    with pytest.raises(ContentPackError) as raised:
        load_pack(pack_copy)
    assert raised.value.problems[0].location == "snippets[3].source"


def test_content_check_command_exit_code_for_a_broken_pack(pack_copy: Path) -> None:
    _edit_yaml(pack_copy, RULES_FILE, lambda d: d["rules"][1]["snippets"].append("no_such_tip"))
    out = io.StringIO()
    assert run_content_check(pack_copy, out) == 1
    assert "no_such_tip" in out.getvalue()


def test_not_a_folder(tmp_path: Path) -> None:
    problem = _only(check_pack(tmp_path / "nowhere"))
    assert "not a folder" in problem.message


def test_uploaded_texts_are_checked_without_disk() -> None:
    texts = {path.name: path.read_text(encoding="utf-8") for path in CONTENT_DIR.glob("*.yaml")}
    assert check_pack_texts(texts) == []
    texts[SNIPPETS_FILE] = "snippets: []\n"
    problems = check_pack_texts(texts)
    assert any(p.file == SNIPPETS_FILE and p.location == "snippets" for p in problems)
