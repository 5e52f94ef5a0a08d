"""Cross-validated figures of the learned red-flag opinion combined with the rules.

    python -m benchmarks.triage_cv [--folds 5] [--by-group] [--sweep] [--per-group]

The corpus (``content/triage_corpus/``) is split into folds of written messages (stratified
by label; ``--by-group`` holds out whole topic blocks instead, a harsher test of
generalisation). For each fold the model is trained on the other folds (their messages and
variants) and the held-out messages go through the bot's decision (rules + model). Printed:
rules alone, and rules + model with the shipped thresholds — emergency recall (urgent
messages, the writer's or a bystander's, caught as an emergency), consult recall, benign
flagged, and how many got the uncertain-middle question. ``--sweep`` also tries other
thresholds, which is how the shipped ones were chosen; ``--per-group`` prints benign flagged
per corpus group (where false alarms come from). Also times one full training run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from sklearn.model_selection import GroupKFold, StratifiedKFold

from benchmarks.triage_blind import score_decisions
from bot.domain.triage import load_catalog, read_message
from bot.domain.triage_opinion import Label, Opinion, Thresholds, combine, model_applies
from bot.paths import CONTENT_DIR
from bot.triage_model import CORPUS_DIRNAME, load_corpus, load_variation, speller_of, train


def _label(label: Label) -> str:
    return "emergency" if label in (Label.EMERGENCY, Label.BYSTANDER) else label.value


def main(argv: Sequence[str] | None = None) -> int:
    """Print the cross-validated figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--by-group", action="store_true")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--per-group", action="store_true", help="benign flagged per group")
    args = parser.parse_args(argv)
    catalog = load_catalog(CONTENT_DIR / "redflags.yaml")
    folder = CONTENT_DIR / CORPUS_DIRNAME
    examples = load_corpus(folder)
    variation = load_variation(folder)
    speller = speller_of(catalog)

    started = time.perf_counter()
    train(examples, variation, speller)
    print(
        f"corpus: {len(examples)} messages; one full training run: "
        f"{time.perf_counter() - started:.2f} s"
    )

    labels = [example.label.value for example in examples]
    if args.by_group:
        groups = [example.group for example in examples]
        splits = GroupKFold(n_splits=args.folds).split(examples, labels, groups)
    else:
        splits = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0).split(
            examples, labels
        )
    held_out: list[tuple[int, Opinion]] = []
    for train_index, test_index in splits:
        model = train([examples[i] for i in train_index], variation, speller)
        held_out.extend((i, model(examples[i].text)) for i in test_index)
    readings = {i: read_message(catalog, examples[i].text) for i, _ in held_out}

    def report(name: str, thresholds: Thresholds | None) -> None:
        pairs = []
        for i, opinion in held_out:
            reading = readings[i]
            decision = combine(
                reading.assessment,
                None if thresholds is None or not model_applies(examples[i].text) else opinion,
                catalog=catalog,
                thresholds=thresholds or Thresholds(),
                rule_excluded=reading.excluded,
                rules_bystander=reading.bystander,
            )
            pairs.append((_label(examples[i].label), decision))
        print(score_decisions(pairs).line(name))

    def benign_by_group() -> None:
        flagged: dict[str, list[int]] = {}
        for i, opinion in held_out:
            if examples[i].label is not Label.BENIGN:
                continue
            reading = readings[i]
            decision = combine(
                reading.assessment,
                opinion if model_applies(examples[i].text) else None,
                catalog=catalog,
                thresholds=Thresholds(),
                rule_excluded=reading.excluded,
                rules_bystander=reading.bystander,
            )
            counts = flagged.setdefault(examples[i].group, [0, 0])
            counts[0] += decision.tier is not None
            counts[1] += 1
        print("benign flagged per group (rules + model):")
        for group, (hit, total) in sorted(flagged.items()):
            print(f"  {group:<44} {hit}/{total} = {hit / total:.1%}")

    kind = "by topic block" if args.by_group else "stratified"
    print(f"{args.folds}-fold cross-validation ({kind}), held-out messages only:")
    report("rules only", None)
    report("rules + model", Thresholds())
    if args.per_group:
        benign_by_group()
    if args.sweep:
        for veto in (0.9, 0.95):
            for tier in (0.7, 0.75, 0.8, 0.85):
                for ask in (0.5, 0.6):
                    for overrule in (0.8, 0.85, 0.9):
                        for raise_at in (0.75, 0.85):
                            report(
                                f"veto {veto} tier {tier} ask {ask} overrule {overrule}"
                                f" raise {raise_at}",
                                Thresholds(
                                    tier=tier,
                                    ask=ask,
                                    veto=veto,
                                    overrule=max(overrule, tier),
                                    raise_to_emergency=raise_at,
                                ),
                            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
