"""The sentiment cascade: accuracy vs the share of texts that need an e5 vector, for several uncertainty bands.

The cascade scores every text with the n-gram + lexicon model (``backend: model``); only a text whose calibrated
P(positive) lies within ``delta`` of 0.5 gets its e5 vector and the e5 stack's score (``hashlr+lex+e5``); the
others keep the n-gram score. Same protocol as lodo.py / indomain.py, no model refitted for the cascade:
  * LODO / LOCO: the cached per-fold outputs of lodo.py ('lr-bal+lex' v1 and 'lr-bal+e5+lex' v1@cut, both
    calibrated inside the fold), combined per text, then behind ServiceDomainScorer ('+cs') as lodo.py does;
  * in-domain (3-fold OOF by text hash, all three sets, indomain.py's protocol): the n-gram out-of-fold decisions
    of train.py (results/train_oof.npz), the e5 head's out-of-fold decisions (C = 4, what the shipped head's CV
    chose), and per fold the n-gram + lexicon calibrator and the stacker fitted on the other folds.
The e5 vectors ('cut' form) come from the precomputed cache (e5_cache.py SHARED_CACHE); nothing is embedded.

    OMP_NUM_THREADS=1 .venv/bin/python bench/sentiment/cascade.py [--no-indomain]   # ~3 min here
Writes results_cascade.json and prints the README's table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from lodo import CACHE, DEFAULT_DATA, _Lookup, ece, folds, load  # noqa: E402

from voc.sentiment.domain import ServiceDomainScorer  # noqa: E402

DELTAS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)  # 0 = n-gram alone, 0.5 = every text through e5
NGRAM, STACK = "lr-bal+lex--{}--v1.npz", "lr-bal+e5+lex--{}--v1@cut.npz"


def cascade(p_ngram: np.ndarray, p_stack: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """The cascade's P(positive) and which texts needed e5 (the rule of voc.sentiment.cascade.needs_e5)."""
    need = np.abs(p_ngram - 0.5) < delta
    return np.where(need, p_stack, p_ngram), need


def paths(p: np.ndarray, y: np.ndarray, need: np.ndarray) -> dict:
    """Per path (n-gram kept / e5 stack): share, accuracy, mean confidence max(P, 1 - P) (what --json reports; a
    calibrated path has it equal to its accuracy) and ECE, to check that both paths' scores mean the same."""
    out = {}
    for name, m in (("ngram", ~need), ("e5", need)):
        if m.any():
            out[name] = {"share": round(float(m.mean()), 4), "accuracy": round(float(((p[m] >= 0.5) == y[m]).mean()), 4),
                         "mean_confidence": round(float(np.maximum(p[m], 1 - p[m]).mean()), 4),
                         "ece": round(ece(p[m], y[m]), 4)}
    return out


def _p(name: str) -> np.ndarray:
    with np.load(CACHE / "folds" / name, allow_pickle=False) as z:
        return np.asarray(z["p_test"], dtype=np.float64)


def generalisation(data_dir: Path, deltas: tuple[float, ...]) -> dict:
    corpus = load(data_dir)
    out: dict = {}
    all_folds = folds(corpus)
    for delta in deltas:
        row: dict = {"lodo": {}, "lodo_cs": {}}
        pooled = {"p": [], "y": [], "need": [], "cs": []}
        ece_loco = []
        for f in all_folds:
            y = corpus.y[f.test]
            p, need = cascade(_p(NGRAM.format(f.name)), _p(STACK.format(f.name)), delta)
            texts = [corpus.texts[i] for i in f.test]
            cs = ServiceDomainScorer(_Lookup("cascade", texts, 2 * p - 1)).score(texts)
            acc, acc_cs = float(((p >= 0.5) == y).mean()), float(((cs >= 0) == y).mean())
            if f.kind == "lodo":
                row["lodo"][f.name] = {"accuracy": round(acc, 4), "e5_share": round(float(need.mean()), 4),
                                       "ece": round(ece(p, y), 4)}
                row["lodo_cs"][f.name] = round(acc_cs, 4)
                row["lodo"][f.name]["paths"] = paths(p, y, need)
            else:
                pooled["p"].append(p)
                pooled["y"].append(y)
                pooled["need"].append(need)
                pooled["cs"].append(cs)
                ece_loco.append((ece(p, y), len(y)))
        p, y, need, cs = (np.concatenate(pooled[k]) for k in ("p", "y", "need", "cs"))
        lodo = row["lodo"]
        n_lodo = {f.name: len(f.test) for f in all_folds if f.kind == "lodo"}
        row["summary"] = {
            "lodo_worst": min(v["accuracy"] for v in lodo.values()),
            "lodo_worst_cs": min(row["lodo_cs"].values()),
            "lodo_e5_share": round(sum(v["e5_share"] * n_lodo[k] for k, v in lodo.items()) / sum(n_lodo.values()), 4),
            "lodo_ece_max": max(v["ece"] for v in lodo.values()),
            "loco_pooled": round(float(((p >= 0.5) == y).mean()), 4),
            "loco_pooled_cs": round(float(((cs >= 0) == y).mean()), 4),
            "loco_e5_share": round(float(need.mean()), 4),
            "loco_ece": round(ece(p, y), 4),
            # lodo.py's 'ECE LOCO' column: the per-category ECEs averaged by size (the README's earlier tables)
            "loco_ece_foldmean": round(sum(e * n for e, n in ece_loco) / sum(n for _e, n in ece_loco), 4),
        }
        row["loco_paths"] = paths(p, y, need)
        out[str(delta)] = row
    return out


def indomain(data_dir: Path, deltas: tuple[float, ...]) -> dict:
    from e5_cache import SHARED_CACHE, shared_vectors
    from sklearn.linear_model import LogisticRegression
    from train import OOF_CACHE, oof_key

    from voc.sentiment.lexicon import default_lexicon_scorer
    from voc.sentiment.train import DATASETS, balanced_weights, load_corpora

    corpora = load_corpora(data_dir, 42)
    rows = [r for n in DATASETS for r in corpora[n]]
    texts, y = [r.text for r in rows], np.array([r.label for r in rows])
    ds = np.array([r.dataset for r in rows])
    cached = np.load(OOF_CACHE)
    if str(cached["key"]) != oof_key(texts, [int(v) for v in y]):
        raise SystemExit(f"{OOF_CACHE}: stale; rerun bench/sentiment/train.py")
    oof, fold = cached["oof"], cached["folds"]
    x = shared_vectors(texts, "cut", SHARED_CACHE)
    if x is None:
        raise SystemExit("no e5 vector cache")
    sw = balanced_weights(y, ds)
    polarity = np.asarray(default_lexicon_scorer().score(texts))
    # e5 head out-of-fold (C = 4), then per fold the n-gram calibrator and the stacker fitted on the other folds'
    # out-of-fold features: indomain.py's 'e5_stack' protocol (its 0.925 on shopping)
    z_e5 = np.zeros(len(y))
    for k in range(int(fold.max()) + 1):
        tr, te = fold != k, fold == k
        z_e5[te] = LogisticRegression(C=4.0, max_iter=3000).fit(x[tr], y[tr], sample_weight=sw[tr]).decision_function(x[te])
        print(f"in-domain e5 fold {k} done", file=sys.stderr)
    p_ngram, p_stack = np.zeros(len(y)), np.zeros(len(y))
    for k in range(int(fold.max()) + 1):
        tr, te = fold != k, fold == k
        f_ngram, f_stack = np.column_stack([oof, polarity]), np.column_stack([oof, z_e5, polarity])
        cal = LogisticRegression(C=1e4, max_iter=1000).fit(f_ngram[tr], y[tr], sample_weight=sw[tr])
        p_ngram[te] = cal.predict_proba(f_ngram[te])[:, 1]
        stacker = LogisticRegression(C=1e4, max_iter=1000).fit(f_stack[tr], y[tr], sample_weight=sw[tr])
        p_stack[te] = stacker.predict_proba(f_stack[te])[:, 1]
    out: dict = {}
    for delta in deltas:
        p, need = cascade(p_ngram, p_stack, delta)
        out[str(delta)] = {n: {"accuracy": round(float(((p[ds == n] >= 0.5) == y[ds == n]).mean()), 4),
                               "e5_share": round(float(need[ds == n].mean()), 4), "paths": paths(p[ds == n], y[ds == n], need[ds == n]),
                               "ece": round(ece(p[ds == n], y[ds == n]), 4)} for n in DATASETS}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--no-indomain", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results_cascade.json")
    args = ap.parse_args(argv)
    res: dict = {"deltas": list(DELTAS), "generalisation": generalisation(args.data_dir, DELTAS)}
    if not args.no_indomain:
        res["indomain"] = indomain(args.data_dir, DELTAS)
    args.out.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    print("| δ | e5 share LODO | LODO waimai | LODO hotel | LODO shopping | **LODO worst** | +cs worst | e5 share LOCO | "
          "**LOCO pooled** | +cs | ECE LODO max | ECE LOCO (per-category mean) | in-domain shopping (e5 share) | waimai | hotel |")
    print("|---|" + "---|" * 14)
    for d in DELTAS:
        g = res["generalisation"][str(d)]
        s = g["summary"]
        ind = res.get("indomain", {}).get(str(d))
        cells = [f"{d:g}", f"{s['lodo_e5_share']:.1%}",
                 *(f"{g['lodo'][n]['accuracy']:.3f}" for n in ("waimai", "hotel", "shopping")),
                 f"{s['lodo_worst']:.3f}", f"{s['lodo_worst_cs']:.3f}", f"{s['loco_e5_share']:.1%}",
                 f"{s['loco_pooled']:.3f}", f"{s['loco_pooled_cs']:.3f}", f"{s['lodo_ece_max']:.3f}", f"{s['loco_ece']:.3f} ({s['loco_ece_foldmean']:.3f})"]
        if ind:
            cells += [f"{ind['shopping']['accuracy']:.3f} ({ind['shopping']['e5_share']:.1%})",
                      f"{ind['waimai']['accuracy']:.3f}", f"{ind['hotel']['accuracy']:.3f}"]
        else:
            cells += ["-", "-", "-"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
