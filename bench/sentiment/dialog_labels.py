"""Label mix of each scorer on real spoken customer turns (MobileCS call transcripts; no gold labels).

Most of these turns are questions and confirmations, so a scorer that calls many of them negative is
misreading spoken service talk. Also runs score_call on each dialogue.
    .venv/bin/python bench/sentiment/dialog_labels.py
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from voc.config import SentimentSettings  # noqa: E402
from voc.records import Role, Utterance  # noqa: E402
from voc.sentiment import get_scorer, label_for, score_call  # noqa: E402
from voc.sentiment.lexicon import LexiconScorer  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel  # noqa: E402
from voc.sentiment.snownlp_scorer import SnowNLPScorer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dialogs", type=Path, default=REPO.parent / "shared" / "data" / "dialog" / "mobilecs_example.jsonl")
    args = ap.parse_args(argv)
    dialogs = [json.loads(line) for line in args.dialogs.read_text(encoding="utf-8").splitlines() if line.strip()]
    turns = [t["text"] for d in dialogs for t in d["turns"] if t["role"] == "customer"]
    settings = SentimentSettings()
    scorers = {"snownlp": SnowNLPScorer(), "lexicon": LexiconScorer(),
               "hashlr (raw)": LinearSentimentModel.load(SHIPPED_MODEL), "hashlr+cs (auto)": get_scorer(settings)}
    print("| scorer | customer turns | negative | neutral | positive |\n|---|---|---|---|---|")
    for name, scorer in scorers.items():
        mix = collections.Counter(label_for(float(s)) for s in scorer.score(turns))
        print(f"| {name} | {len(turns)} | {mix['negative']} | {mix['neutral']} | {mix['positive']} |")
    print()
    for d in dialogs:
        utts = [Utterance(d["id"], i, Role(t["role"]), float(i), float(i) + 1, t["text"]) for i, t in enumerate(d["turns"])]
        _, call = score_call(utts, get_scorer(settings), settings)
        print(d["id"][:8], f"score={call.score:+.2f} {call.trajectory} escalation={call.escalation}", "; ".join(call.reasons))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
