"""Scoring time of the step model per call, on this machine, with the embedder loaded:

* vectors known (every sentence embedded before): the model and the rules alone;
* cold, one call at a time: each call's new sentences embedded when the call is scored;
* cold, batched: the stage's way (voc.pipeline.qa.StepVectors.prefetch): every distinct agent sentence of the batch
  embedded in one go before scoring, customer turns only until the first complaint.

    OMP_NUM_THREADS=1 .venv/bin/python bench/qa/speed.py [--lines bench/qa/fresh_lines.yaml]

Wall and CPU (process) time per call; the CPU figure is what an otherwise idle core would take.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=Path, default=HERE / "heldout_lines.yaml")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from gold import CachedVectors, generate_heldout, judges, load_heldout_lines

    from voc.config import QASettings
    from voc.qa import load_scripts, score_call
    from voc.qa.steps import StepJudge, sentences
    from voc.records import Role
    from voc.semantic import load_embedder
    from voc.transcribe.jsonio import transcript_from_json

    book = load_scripts()
    fitted = judges(book, CachedVectors())  # fitted from the training vectors (cached)
    emb = load_embedder("e5")
    emb.embed(["预热"])
    sets = {"dev set (composed calls)": [(transcript_from_json(tr), g["script"]) for tr, g in
                                         generate_heldout(7, lines=load_heldout_lines(args.lines))],
            "demo transcripts C011-C016": [(transcript_from_json(json.loads(p.read_text(encoding="utf-8"))),
                                            "retail_after_sales")
                                           for p in sorted((ROOT / "demo/inbox/transcripts").glob("*.json"))]}
    settings = QASettings(review_sample_rate=0.0)
    for name, calls in sets.items():
        memo: dict[str, np.ndarray] = {}
        stat = {"n": 0}

        def vectors(texts: list[str], memo=memo, stat=stat) -> np.ndarray:
            new = sorted({t for t in texts if t not in memo})
            if new:
                memo.update(zip(new, emb.embed(new), strict=True))
                stat["n"] += len(new)
            return np.stack([memo[t] for t in texts])

        js = {k: StepJudge(j.agent, j.customer, vectors, j.signature) for k, j in fitted.items()}

        def run(calls=calls, js=js) -> tuple[float, float]:
            t0, c0 = time.perf_counter(), time.process_time()
            for t, script in calls:
                score_call(t.utterances, t.metrics, [], book.scripts[script], settings, 7,
                           interaction_id=t.interaction_id, judge=js[script])
            return (time.perf_counter() - t0) / len(calls), (time.process_time() - c0) / len(calls)

        cold = run()
        n_cold = stat["n"]
        warm = run()
        memo.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        vectors(sorted({s for t, _ in calls for u in t.utterances if u.role != Role.CUSTOMER
                        for s in sentences(u.text)}))
        pre = ((time.perf_counter() - t0) / len(calls), (time.process_time() - c0) / len(calls))
        batched = run()
        print(f"{name}, {len(calls)} calls, {n_cold / len(calls):.1f} new sentences a call:")
        print(f"  vectors known:          {1000 * warm[0]:.0f} ms wall, {1000 * warm[1]:.0f} ms CPU a call")
        print(f"  cold, call by call:     {1000 * cold[0]:.0f} ms wall, {1000 * cold[1]:.0f} ms CPU a call")
        print(f"  cold, batched prefetch: {1000 * (pre[0] + batched[0]):.0f} ms wall, "
              f"{1000 * (pre[1] + batched[1]):.0f} ms CPU a call")


if __name__ == "__main__":
    main()
