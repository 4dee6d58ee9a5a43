"""Ranking quality: Spearman of each scorer's dialogue score against graded customer satisfaction.

No satisfaction-annotated Chinese helpdesk dialogues exist in shared/data or in any package reachable here, so
this is a proxy (see README.md, "Ranking"): 60 customer-service dialogues written for voc with a 1-5 satisfaction
grade each (dialog_satisfaction.jsonl), and the 10 real MobileCS calls graded by hand (mobilecs_satisfaction.tsv;
texts read from shared/data, skipped when absent). All grades were written before any scorer was run on them.

Each scorer is applied two ways: to the customer turns joined into one text (the issue's protocol), and, for the
voc scorers, through ``score_call`` on the turns (what ``voc run`` stores and ranks by).

    .venv/bin/python bench/sentiment/rank_dialogs.py [--skip-snownlp] [--out bench/sentiment/results_rank.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train import DEFAULT_DATA  # noqa: E402

from voc.config import SentimentSettings  # noqa: E402
from voc.records import Role, Utterance  # noqa: E402
from voc.sentiment import score_call  # noqa: E402
from voc.sentiment.domain import ServiceDomainScorer  # noqa: E402
from voc.sentiment.lexicon import LexiconScorer  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel  # noqa: E402
from voc.sentiment.train import load_corpora  # noqa: E402

HERE = Path(__file__).resolve().parent
MOBILECS = REPO.parent / "shared" / "data" / "dialog" / "mobilecs_example.jsonl"
log = logging.getLogger("rank_dialogs")


def load_dialogs(mobilecs: Path) -> list[dict]:
    """[{id, set, satisfaction, turns: [(role, text)]}] from the written set and (if present) MobileCS."""
    out = []
    for line in (HERE / "dialog_satisfaction.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append({"id": d["id"], "set": "written", "satisfaction": d["satisfaction"],
                    "turns": [(t["role"], t["text"]) for t in d["turns"]]})
    if mobilecs.is_file():
        with open(HERE / "mobilecs_satisfaction.tsv", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r and not r[0].startswith("#")]
        grades = {r[0]: int(r[1]) for r in rows[1:]}
        for line in mobilecs.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            if d["id"][:8] in grades:
                out.append({"id": d["id"][:8], "set": "mobilecs", "satisfaction": grades[d["id"][:8]],
                            "turns": [(t["role"], t["text"]) for t in d["turns"]]})
    else:
        log.warning("%s not found: MobileCS calls skipped", mobilecs)
    return out


class TfidfBaseline:
    """The issue's baseline: char 1-3-gram + jieba-word TF-IDF, logistic regression on the three shared sets."""

    name = "tfidf-lr baseline"

    def __init__(self, data_dir: Path, seed: int = 42) -> None:
        import jieba
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        jieba.setLogLevel(logging.WARNING)
        rows = [r for rs in load_corpora(data_dir, seed).values() for r in rs if r.split in ("train", "dev")]
        union = FeatureUnion([
            ("char", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)),
            ("word", TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, lowercase=False, sublinear_tf=True,
                                     min_df=2)),
        ])
        t0 = time.perf_counter()
        self.pipe = make_pipeline(union, LogisticRegression(C=4.0, max_iter=2000))
        self.pipe.fit([r.text for r in rows], [r.label for r in rows])
        log.info("tf-idf baseline fitted on %d texts in %.0f s", len(rows), time.perf_counter() - t0)

    def score(self, texts):
        return 2.0 * self.pipe.predict_proba(list(texts))[:, 1] - 1.0


def spearman(scores, grades) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(scores, grades).statistic)


def bootstrap_ci(scores, grades, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    scores, grades = np.asarray(scores), np.asarray(grades)
    vals = []
    for _ in range(n):
        idx = rng.integers(0, len(scores), len(scores))
        if len(set(grades[idx])) > 1 and len(set(scores[idx])) > 1:
            vals.append(spearman(scores[idx], grades[idx]))
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="shared sentiment TSVs (for the tf-idf baseline)")
    ap.add_argument("--mobilecs", type=Path, default=MOBILECS)
    ap.add_argument("--skip-snownlp", action="store_true")
    ap.add_argument("--skip-e5", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results_rank.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    dialogs = load_dialogs(args.mobilecs)
    settings = SentimentSettings()
    joined = ["，".join(t for r, t in d["turns"] if r == "customer") for d in dialogs]
    grades = [d["satisfaction"] for d in dialogs]
    model = LinearSentimentModel.load(SHIPPED_MODEL)
    default = f"{model.name}+cs (backend model)"
    joined_scorers = {f"{model.name} (raw)": model, default: ServiceDomainScorer(model),
                      "lexicon": LexiconScorer(), "tfidf-lr baseline": TfidfBaseline(args.data_dir)}
    call_scorers = {default: ServiceDomainScorer(model), "lexicon+cs": ServiceDomainScorer(LexiconScorer())}
    if not args.skip_snownlp:
        from voc.sentiment.snownlp_scorer import SnowNLPScorer

        joined_scorers["snownlp"] = SnowNLPScorer()
    if not args.skip_e5:
        from voc.sentiment.e5 import SHIPPED_HEAD, E5StackHead, E5StackScorer

        if SHIPPED_HEAD.is_file():
            stack = E5StackScorer(model, E5StackHead.load(SHIPPED_HEAD))
            joined_scorers[stack.name] = stack
            call_scorers[f"{stack.name}+cs (default)"] = ServiceDomainScorer(stack)

    columns: dict[str, list[float]] = {}
    for name, scorer in joined_scorers.items():
        columns[f"{name} | joined"] = [float(v) for v in scorer.score(joined)]
    for name, scorer in call_scorers.items():
        vals = []
        for d in dialogs:
            utts = [Utterance(d["id"], i, Role(r), float(i), float(i) + 1, t) for i, (r, t) in enumerate(d["turns"])]
            vals.append(score_call(utts, scorer, settings)[1].score)
        columns[f"{name} | score_call"] = vals

    sets = {"written (60)": [i for i, d in enumerate(dialogs) if d["set"] == "written"],
            "mobilecs (10)": [i for i, d in enumerate(dialogs) if d["set"] == "mobilecs"],
            "all": list(range(len(dialogs)))}
    results: dict = {"n": {k: len(v) for k, v in sets.items()}, "spearman": {}, "ci95_written": {}}
    print("| scorer | how | " + " | ".join(sets) + " |\n|---|---|" + "---|" * len(sets))
    for col, vals in columns.items():
        row = {}
        for sname, idx in sets.items():
            row[sname] = round(spearman([vals[i] for i in idx], [grades[i] for i in idx]), 3) if len(idx) > 2 else None
        results["spearman"][col] = row
        w = sets["written (60)"]
        results["ci95_written"][col] = [round(v, 3) for v in bootstrap_ci([vals[i] for i in w], [grades[i] for i in w])]
        scorer_name, how = col.split(" | ")
        print(f"| {scorer_name} | {how} | " + " | ".join(f"{row[s]:.3f}" if row[s] is not None else "-" for s in sets)
              + f" |  (written 95% CI {results['ci95_written'][col]})")
    results["per_dialog"] = [{"id": d["id"], "set": d["set"], "satisfaction": d["satisfaction"],
                              **{c: round(v[i], 4) for c, v in columns.items()}} for i, d in enumerate(dialogs)]
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
