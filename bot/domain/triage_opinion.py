"""A learned second opinion beside the red-flag rules, and how the two are combined.

The rules (``triage.scan_text``) explain themselves and decide whenever they fire. The
learned opinion — a text classifier trained on the labelled corpus in
``content/triage_corpus/`` (see ``bot/triage_model.py``) — catches signs the word lists miss.
This module holds only the combination: it takes the model as a scoring function, so it stays
pure (the model is trained and the corpus read outside the domain).

The decision has three outcomes: escalate at a tier, ask one short question ("the uncertain
middle") when the evidence is thin, or nothing. Precision stays high because the model alone
escalates only when very confident, a rule's exclusion (negation, idiom, someone else, the
past) is overruled only when it is surer still, and everything in between is a question.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.domain.triage import Assessment, Finding, RedFlagCatalog, Tier, read_message


class Label(enum.StrEnum):
    """What the model predicts for a message; BYSTANDER is someone else's emergency now."""

    BENIGN = "benign"
    CONSULT = "consult"
    EMERGENCY = "emergency"
    BYSTANDER = "bystander"


@dataclass(frozen=True)
class Opinion:
    """The model's probabilities for one message (they sum to 1)."""

    benign: float
    consult: float
    emergency: float
    bystander: float = 0.0

    @property
    def urgent(self) -> float:
        """Probability that help is needed now, for the writer or someone with them."""
        return self.emergency + self.bystander

    @property
    def flagged(self) -> float:
        """Probability that the message shows any red flag."""
        return 1.0 - self.benign


Scorer = Callable[[str], Opinion]

# Shorter messages are answers ("Berlin", "6.5", "2 coffees") or greetings: the model has
# too little to go on, and the rules alone read them.
MIN_WORDS_FOR_MODEL = 3
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def model_applies(text: str) -> bool:
    """Whether the learned opinion is asked about this message at all."""
    return len(_WORD.findall(text)) >= MIN_WORDS_FOR_MODEL


class Check(enum.StrEnum):
    """The one question of the uncertain middle; stored values, so they never change."""

    NOW = "now"  # "Is this happening right now?" — yes means emergency, no means consult
    WORSE = "worse"  # "Is it new or getting worse?" — yes means consult, no means nothing


@dataclass(frozen=True)
class Thresholds:
    """Probability cut-offs, chosen by cross-validation on the corpus (README "Red flags")."""

    # The model alone escalates at or above this.
    tier: float = 0.75
    # Asks the uncertain-middle question at or above this.
    ask: float = 0.5
    # Where a rule saw a trigger word and excluded it (negated, an idiom, someone else, past),
    # the model must be at least this sure to escalate; its ask cut-off becomes `tier`.
    overrule: float = 0.85
    # A consult found by the rules is raised to an emergency at or above this.
    raise_to_emergency: float = 0.75
    # A rule's finding becomes the question instead when the model is at least this sure the
    # message is benign ("the shelf collapsed"): asked, never silently dropped.
    veto: float = 0.9


@dataclass(frozen=True)
class Decision:
    """What to do with a message: escalate `assessment`, ask `check`, or (both empty) nothing."""

    assessment: Assessment = field(default_factory=Assessment)
    check: Check | None = None
    # Someone else's emergency: the escalation is worded for a bystander.
    bystander: bool = False
    # Probabilities behind the decision, for measurement only (never stored or logged).
    opinion: Opinion | None = None

    @property
    def tier(self) -> Tier | None:
        """The tier to escalate at, or None (nothing, or a question first)."""
        return self.assessment.tier


def learned_finding(catalog: RedFlagCatalog, tier: Tier) -> Finding:
    """The catalog's flag for "the model recognised a sign of this tier"."""
    flag_id = catalog.learned_flags[tier]
    return Finding(flag=catalog.flags[flag_id], evidence="described in your own words")


def answer_check(catalog: RedFlagCatalog, check: Check, *, yes: bool) -> Assessment:
    """The tier the answer to the uncertain-middle question decides."""
    if check is Check.NOW:
        tier = Tier.EMERGENCY if yes else Tier.CONSULT
    elif yes:
        tier = Tier.CONSULT
    else:
        return Assessment()
    return Assessment(findings=(learned_finding(catalog, tier),))


def combine(
    rules: Assessment,
    opinion: Opinion | None,
    *,
    catalog: RedFlagCatalog,
    thresholds: Thresholds,
    rule_excluded: bool = False,
    rules_bystander: bool = False,
) -> Decision:
    """One decision from the rules' assessment and the model's opinion (None: rules only)."""
    bystander = rules_bystander or (
        opinion is not None and opinion.bystander > max(opinion.emergency, 0.5)
    )
    if opinion is None:
        return Decision(assessment=rules, bystander=rules_bystander)
    if rules.tier is not None and opinion.benign >= thresholds.veto:
        check = Check.NOW if rules.tier is Tier.EMERGENCY else Check.WORSE
        return Decision(check=check, opinion=opinion)
    if rules.tier is Tier.EMERGENCY:
        return Decision(assessment=rules, bystander=bystander, opinion=opinion)
    if rules.tier is Tier.CONSULT:
        if opinion.urgent >= thresholds.raise_to_emergency:
            raised = Assessment(
                findings=(learned_finding(catalog, Tier.EMERGENCY), *rules.findings)
            )
            return Decision(assessment=raised, bystander=bystander, opinion=opinion)
        return Decision(assessment=rules, opinion=opinion)
    tier_at = thresholds.overrule if rule_excluded else thresholds.tier
    ask_at = thresholds.tier if rule_excluded else thresholds.ask
    if opinion.urgent >= tier_at:
        found = Assessment(findings=(learned_finding(catalog, Tier.EMERGENCY),))
        return Decision(assessment=found, bystander=bystander, opinion=opinion)
    # The consult class itself must be sure: "some red flag, unsure which" is thin evidence
    # (a benign message split between consult and emergency), so it gets the question.
    if opinion.consult >= tier_at:
        found = Assessment(findings=(learned_finding(catalog, Tier.CONSULT),))
        return Decision(assessment=found, opinion=opinion)
    if opinion.flagged >= ask_at:
        check = Check.NOW if opinion.urgent >= opinion.consult else Check.WORSE
        return Decision(check=check, opinion=opinion)
    return Decision(opinion=opinion)


def triage_message(
    catalog: RedFlagCatalog,
    text: str,
    scorer: Scorer | None,
    thresholds: Thresholds | None = None,
) -> Decision:
    """Rules first, then the model (when there is one) for what they did not settle."""
    reading = read_message(catalog, text)
    opinion = scorer(text) if scorer is not None and model_applies(text) else None
    return combine(
        reading.assessment,
        opinion,
        catalog=catalog,
        thresholds=thresholds or Thresholds(),
        rule_excluded=reading.excluded,
        rules_bystander=reading.bystander,
    )
