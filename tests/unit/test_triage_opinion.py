"""The learned red-flag opinion: how it combines with the rules, and the trained model."""

from __future__ import annotations

import pytest

from bot.content_bundle import ContentBundle, load_bundle
from bot.domain.triage import RedFlagCatalog, Tier, load_catalog, read_message
from bot.domain.triage_opinion import (
    Check,
    Opinion,
    Thresholds,
    answer_check,
    combine,
    triage_message,
)
from bot.paths import CONTENT_DIR
from bot.triage_model import CORPUS_DIRNAME, load_corpus, load_variation, variants

SURE_EMERGENCY = Opinion(benign=0.02, consult=0.03, emergency=0.95)
SURE_BYSTANDER = Opinion(benign=0.02, consult=0.03, emergency=0.05, bystander=0.9)
SURE_CONSULT = Opinion(benign=0.05, consult=0.9, emergency=0.05)
THIN_URGENT = Opinion(benign=0.4, consult=0.2, emergency=0.4)
THIN_CONSULT = Opinion(benign=0.4, consult=0.5, emergency=0.1)
SURE_BENIGN = Opinion(benign=0.99, consult=0.005, emergency=0.005)


@pytest.fixture(scope="module")
def catalog() -> RedFlagCatalog:
    return load_catalog(CONTENT_DIR / "redflags.yaml")


@pytest.fixture(scope="module")
def bundle() -> ContentBundle:
    return load_bundle(CONTENT_DIR)


def scripted(opinion: Opinion):
    return lambda _text: opinion


def test_rules_decide_when_they_fire(catalog: RedFlagCatalog) -> None:
    unsure = Opinion(benign=0.5, consult=0.3, emergency=0.2)
    decision = triage_message(catalog, "I can't breathe", scripted(unsure))
    assert decision.tier is Tier.EMERGENCY and decision.check is None
    assert "trouble_breathing" in decision.assessment.flag_ids


def test_the_model_alone_escalates_only_when_sure(catalog: RedFlagCatalog) -> None:
    text = "the kettle keeps sliding out of my grasp"  # no rule word
    assert read_message(catalog, text).assessment.tier is None
    sure = triage_message(catalog, text, scripted(SURE_CONSULT))
    assert sure.tier is Tier.CONSULT and sure.assessment.flag_ids == {"described_consult"}
    urgent = triage_message(catalog, text, scripted(SURE_EMERGENCY))
    assert urgent.tier is Tier.EMERGENCY
    assert urgent.assessment.flag_ids == {"described_emergency"}


def test_thin_evidence_asks_the_right_question(catalog: RedFlagCatalog) -> None:
    text = "something odd with my hand today"
    urgent = triage_message(catalog, text, scripted(THIN_URGENT))
    assert urgent.tier is None and urgent.check is Check.NOW
    consult = triage_message(catalog, text, scripted(THIN_CONSULT))
    assert consult.tier is None and consult.check is Check.WORSE
    calm = triage_message(catalog, text, scripted(SURE_BENIGN))
    assert calm.tier is None and calm.check is None


def test_a_rules_exclusion_needs_a_very_sure_model(catalog: RedFlagCatalog) -> None:
    text = "no chest pain at all"
    reading = read_message(catalog, text)
    assert reading.assessment.tier is None and reading.excluded
    # Sure enough to escalate an unexcluded message, but not to overrule a negation: ask.
    fairly_sure = Opinion(benign=0.1, consult=0.1, emergency=0.8)
    decision = triage_message(catalog, text, scripted(fairly_sure))
    assert decision.tier is None and decision.check is Check.NOW
    overruled = triage_message(
        catalog, text, scripted(Opinion(benign=0.005, consult=0.005, emergency=0.99))
    )
    assert overruled.tier is Tier.EMERGENCY


def test_a_very_sure_benign_model_turns_a_rule_into_a_question(catalog: RedFlagCatalog) -> None:
    text = "I can't breathe"
    decision = triage_message(catalog, text, scripted(SURE_BENIGN))
    assert decision.tier is None and decision.check is Check.NOW


def test_a_consult_rule_is_raised_only_by_a_very_sure_model(catalog: RedFlagCatalog) -> None:
    text = "my foot feels numb"
    assert triage_message(catalog, text, scripted(SURE_EMERGENCY)).tier is Tier.EMERGENCY
    assert triage_message(catalog, text, scripted(THIN_URGENT)).tier is Tier.CONSULT


def test_answers_to_the_question_decide_the_tier(catalog: RedFlagCatalog) -> None:
    assert answer_check(catalog, Check.NOW, yes=True).tier is Tier.EMERGENCY
    assert answer_check(catalog, Check.NOW, yes=False).tier is Tier.CONSULT
    assert answer_check(catalog, Check.WORSE, yes=True).tier is Tier.CONSULT
    assert answer_check(catalog, Check.WORSE, yes=False).tier is None


def test_someone_elses_emergency_is_a_bystanders(catalog: RedFlagCatalog) -> None:
    for text in ["my mum is suddenly muddled right now", "my dad collapsed and is not responding"]:
        reading = read_message(catalog, text)
        assert reading.assessment.tier is Tier.EMERGENCY, text
        assert reading.bystander, text
    own = read_message(catalog, "I collapsed at work and my dad found me")
    assert own.assessment.tier is Tier.EMERGENCY and not own.bystander
    by_model = combine(
        read_message(catalog, "grandad is on the floor and only mumbles").assessment,
        SURE_BYSTANDER,
        catalog=catalog,
        thresholds=Thresholds(),
    )
    assert by_model.tier is Tier.EMERGENCY and by_model.bystander


def test_objects_and_plans_that_collapse_are_not_fainting(catalog: RedFlagCatalog) -> None:
    for text in ["the shelf in the garage collapsed", "the deal collapsed", "faint praise"]:
        assert read_message(catalog, text).assessment.tier is None, text
    assert read_message(catalog, "I collapsed in the kitchen").assessment.tier is Tier.EMERGENCY


def test_the_corpus_is_large_varied_and_clean() -> None:
    folder = CONTENT_DIR / CORPUS_DIRNAME
    examples = load_corpus(folder)
    assert len(examples) >= 1000
    labels = {example.label.value for example in examples}
    assert labels == {"benign", "consult", "emergency", "bystander"}
    variation = load_variation(folder)
    made = variants("my left arm just won't do anything", variation)
    assert len(made) == 2 and all(m != "my left arm just won't do anything" for m in made)
    assert made == variants("my left arm just won't do anything", variation)  # seeded


def test_the_trained_model_reads_signs_described_in_everyday_words(
    bundle: ContentBundle,
) -> None:
    """Messages written for this test (not in the corpus); the model, not a rule, decides."""
    scorer = bundle.opinion
    assert scorer is not None
    urgent = "my husband is on the floor and he only mumbles when i shake him"
    assert scorer(urgent).urgent > 0.5
    assert scorer("my mug keeps slipping out of my fingers these days").consult > 0.5
    assert scorer("the bookcase collapsed when we moved it").benign > 0.5
    decision = triage_message(bundle.catalog, urgent, bundle.opinion, bundle.thresholds)
    assert decision.tier is Tier.EMERGENCY and decision.bystander


def test_a_split_model_asks_instead_of_alarming(catalog: RedFlagCatalog) -> None:
    """Sure of "some red flag" but not which (a benign message split between classes): the
    consult class itself is below the cut-off, so the question comes, not a ⚠️."""
    text = "something odd with my hand today"
    split = Opinion(benign=0.15, consult=0.65, emergency=0.2)
    decision = triage_message(catalog, text, scripted(split))
    assert decision.tier is None and decision.check is Check.WORSE
