"""QA boundary: score the date's calls against their queue's script; calls that need a person go to the review
queue. Also the step model's life cycle: fitted from the scripts' examples plus reviewers' step decisions, stored with
the signature of what it learned from, refitted (nightly or by ``voc qa retrain``) when decisions are added."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, per_item, select_items, stage, timed
from voc.records import Interaction, QAResult, StageResult
from voc.store import Store

log = logging.getLogger(__name__)

STEP_EMBEDDER = "e5"  # the backend of voc.semantic the step model's sentence vectors come from
VECTOR_FILE = Path("examples") / "vectors.npz"  # shipped sentence vectors of a rules folder's examples


@stage("qa")
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Score each call against its queue's script; calls that need a human go to the review queue (including calls
    with a "not sure" step: reason ``uncertain_step``)."""
    from voc.qa import UNCERTAIN_STEP, load_scripts, review_priority
    from voc.semantic import qa_embedder
    from voc.store.review import ReviewQueue

    t0 = time.perf_counter()
    items = select_items(store, "qa", run_date, batch, channels=["call"])
    book = load_scripts(settings.qa.rules_dir)
    embedder = qa_embedder() if settings.qa.semantic_matching else None
    queue = ReviewQueue(store.db)
    utts = store.utterances_for([i.id for i in items])
    enqueued = uncertain = 0
    scores: list[float] = []
    models: dict[str, dict[str, Any]] = {}
    vectors = StepVectors(store, book) if settings.qa.step_model and items else None
    if vectors is not None:
        vectors.prefetch(utts.values())

    def judge_for(name: str) -> Any:
        if vectors is None:
            return None
        if name not in models:
            judge, info = step_judge(store, settings, book, name, vectors)
            models[name] = {"judge": judge, **info}
        return models[name]["judge"]

    def work(item: Interaction) -> None:
        nonlocal enqueued, uncertain
        script = book.for_queue(item.queue, settings.qa.default_script)
        result = _score(store, settings, script, item, utts.get(item.id) or [], embedder, judge_for(script.name))
        store.replace_qa(result)
        scores.append(result.score)
        uncertain += UNCERTAIN_STEP in result.review_reasons
        if result.review_reasons:
            prio = review_priority(result.score, result.review_reasons, item.customer_tier, settings.routing.tier_weights)
            queue.enqueue(item.id, item.queue or script.name, list(result.review_reasons), prio)
            enqueued += 1
        else:
            queue.withdraw(item.id)

    done, failed, errors = per_item(store, "qa", items, work, progress)
    mean = round(sum(scores) / len(scores), 1) if scores else None
    step_models = {k: {kk: vv for kk, vv in v.items() if kk != "judge"} for k, v in models.items()}
    return timed("qa", run_date, t0, processed=done, failed=failed, errors=tuple(errors),
                 details={"review_enqueued": enqueued, "uncertain_step": uncertain, "mean_score": mean,
                          "semantic": bool(embedder), "step_model": step_models, "scripts": sorted(book.scripts)})


def score_calls(store: Store, settings: Settings, ids: Sequence[str], *, judges: Mapping[str, Any] | None = None
                ) -> dict[str, QAResult]:
    """Score stored calls again without writing anything: with ``judges`` (script -> step model) or the current step
    models. For comparisons (before/after a refit) and checks."""
    from voc.qa import load_scripts

    book = load_scripts(settings.qa.rules_dir)
    items = store.interactions(ids=list(ids))
    utts = store.utterances_for([i.id for i in items])
    vectors = StepVectors(store, book) if settings.qa.step_model and judges is None else None
    chosen = dict(judges or {})
    out: dict[str, QAResult] = {}
    for item in items:
        script = book.for_queue(item.queue, settings.qa.default_script)
        if vectors is not None and script.name not in chosen:
            chosen[script.name] = step_judge(store, settings, book, script.name, vectors)[0]
        out[item.id] = _score(store, settings, script, item, utts.get(item.id) or [], None, chosen.get(script.name))
    return out


def _score(store: Store, settings: Settings, script: Any, item: Interaction, utterances: Sequence[Any],
           embedder: Any = None, judge: Any = None) -> QAResult:
    from voc.qa import score_call

    return score_call(utterances, store.call_metrics(item.id), store.sentiment_scores(item.id), script, settings.qa,
                      settings.seed, queue=item.queue, interaction_id=item.id, embedder=embedder, judge=judge)


# ---- the step model ------------------------------------------------------------------------------------------


class StepVectors:
    """Sentence vectors for the step model: remembered in-process, else from the rules folder's shipped vectors,
    else from the store's embedding cache, else embedded (one batch) and cached in the store. The embedder loads only
    when a sentence is new."""

    def __init__(self, store: Store | None, book: Any, memo_size: int = 50_000) -> None:
        from voc.semantic import BACKENDS

        if STEP_EMBEDDER not in BACKENDS:  # pragma: no cover - e5 is a core backend
            raise ValueError(f"the step model needs the {STEP_EMBEDDER!r} embedder")
        self.store = store
        self.name, self.shipped = _shipped_vectors(tuple(sorted({str(Path(book.rules_dir) / VECTOR_FILE),
                                                                  str(_shipped_rules() / VECTOR_FILE)})))
        self.memo: dict[str, np.ndarray] = {}
        self.memo_size = memo_size
        self.embedded = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        from voc.semantic import text_hash

        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        found: dict[str, np.ndarray] = {}
        for t in todo:
            v = self.shipped.get(text_hash(t))
            if v is not None:
                found[t] = v
        todo = [t for t in todo if t not in found]
        if todo and self.store is not None:
            found.update(self.store.cached_embeddings(self.name, todo))
            todo = [t for t in todo if t not in found]
        if todo:
            vecs = np.asarray(self.embedder().embed(todo), dtype=np.float32)
            self.embedded += len(todo)
            if self.store is not None:
                self.store.put_embeddings(self.name, todo, vecs)
            found.update(zip(todo, vecs, strict=True))
        if len(self.memo) + len(found) > self.memo_size:
            self.memo.clear()
        self.memo.update(found)
        return np.stack([self.memo[t] if t in self.memo else found[t] for t in texts]) if texts else \
            np.zeros((0, 384), dtype=np.float32)

    def prefetch(self, calls: Any) -> int:
        """Vectors for every sentence the agents of ``calls`` (lists of utterances) said, in one batch: each distinct
        sentence is embedded once for the whole run, not once per call. Returns how many sentences were asked for."""
        from voc.pipeline.embed import agent_sentences

        texts = sorted({s for utts in calls for s in agent_sentences(utts)})
        if texts:
            self(texts)
        return len(texts)

    def embedder(self) -> Any:
        """The embedder of the shipped vectors (loaded on first use; the embed stage computes with it too)."""
        from voc.semantic import load_embedder

        embedder = load_embedder(STEP_EMBEDDER)
        if embedder.name != self.name:
            raise ValueError(f"shipped QA vectors are from {self.name}, the embedder is {embedder.name}: rerun "
                             "bench/qa/embed_examples.py")
        return embedder


def _shipped_rules() -> Path:
    from voc.qa.loader import SHIPPED_RULES

    return SHIPPED_RULES


@functools.lru_cache(maxsize=4)
def _shipped_vectors(paths: tuple[str, ...]) -> tuple[str, dict[str, np.ndarray]]:
    from voc.qa.steps import read_vector_file
    from voc.semantic import load_embedder

    name, out = None, {}
    for p in paths:
        if Path(p).is_file():
            file_name, vecs = read_vector_file(p)
            if name is None or file_name == name:
                name = file_name
                out.update(vecs)
    if name is None:  # no shipped vectors: every sentence is embedded (and cached in the store)
        name = load_embedder(STEP_EMBEDDER).name
    return name, out


_FITTED: dict[tuple[str, str, str], Any] = {}  # (script, training signature, embedder) -> judge, per process


def training_for(store: Store | None, book: Any, script: str) -> tuple[Any, int, int]:
    """The script's training set plus reviewers' current step decisions; (set, reviewer examples, last example id)."""
    from voc.store.qa_examples import step_examples

    training = book.training[script]
    if store is None:
        return training, 0, 0
    rows = [e for e in step_examples(store.db, script) if e.text.strip()]
    if not rows:
        return training, 0, 0
    return (training.with_reviewer_examples((e.rule_id, e.text, e.said) for e in rows), len(rows),
            max(e.id for e in rows))


def step_judge(store: Store | None, settings: Settings, book: Any, script: str, vectors: StepVectors | None = None,
               *, save: bool = True) -> tuple[Any, dict[str, Any]]:
    """The step model of ``script`` for what it should know now: the stored one when it was fitted on exactly the
    current examples and decisions, else a refit (stored with a before/after agreement report when ``save``)."""
    from voc.qa.steps import StepJudge, fit_judge, judge_from_bytes
    from voc.store.qa_examples import latest_step_model, save_step_model

    vectors = vectors or StepVectors(store, book)
    training, n_reviewer, last_id = training_for(store, book, script)
    key = (script, training.signature, vectors.name)
    info: dict[str, Any] = {"signature": training.signature, "reviewer_examples": n_reviewer, "refitted": False}
    if key in _FITTED:
        fitted = _FITTED[key]
        return StepJudge(fitted.agent, fitted.customer, vectors, fitted.signature), info
    stored = latest_step_model(store.db, script) if store is not None else None
    if stored is not None and stored.signature == training.signature and stored.embedder == vectors.name:
        judge = judge_from_bytes(stored.state, vectors)
    else:
        t0 = time.perf_counter()
        judge = fit_judge(training, vectors, seed=settings.seed, embedder=vectors.name)
        info.update(refitted=True, fit_s=round(time.perf_counter() - t0, 2))
        if store is not None and save:
            report = {"reason": "new reviewer decisions" if stored is not None else "first fit",
                      "fit_s": info["fit_s"], "examples": len(training.agent) + len(training.customer)}
            if n_reviewer and stored is not None:
                before = judge_from_bytes(stored.state, vectors)
                report.update(_before_after(store, settings, script, before, judge))
            save_step_model(store.db, script, signature=training.signature, embedder=vectors.name,
                            reviewer_examples=n_reviewer, last_example_id=last_id,
                            state=_judge_bytes(judge), report=report)
    _FITTED[key] = judge
    return judge, info


def _judge_bytes(judge: Any) -> bytes:
    from voc.qa.steps import judge_to_bytes

    return judge_to_bytes(judge)


def retrain(store: Store, settings: Settings, scripts: Sequence[str] | None = None, *, force: bool = False
            ) -> dict[str, Any]:
    """Refit each script's step model on its examples plus every reviewer step decision; report per script and rule
    the machine's agreement with the reviewers' decisions before (the model in use) and after (the refit)."""
    from voc.qa import load_scripts
    from voc.qa.steps import fit_judge, judge_from_bytes
    from voc.store.qa_examples import latest_step_model, save_step_model

    book = load_scripts(settings.qa.rules_dir)
    unknown = [s for s in scripts or () if s not in book.scripts]
    if unknown:
        raise ValueError(f"unknown QA script(s) {unknown}; expected one of {sorted(book.scripts)}")
    vectors = StepVectors(store, book)
    out: dict[str, Any] = {}
    for name in scripts or sorted(book.scripts):
        training, n_reviewer, last_id = training_for(store, book, name)
        stored = latest_step_model(store.db, name)
        if stored is not None and stored.signature == training.signature and not force:
            out[name] = {"refitted": False, "reason": "up to date", "reviewer_examples": n_reviewer,
                         "model_id": stored.id}
            continue
        before = judge_from_bytes(stored.state, vectors) if stored is not None else \
            fit_judge(book.training[name], vectors, seed=settings.seed, embedder=vectors.name)
        t0 = time.perf_counter()
        after = fit_judge(training, vectors, seed=settings.seed, embedder=vectors.name)
        report = {"reason": "voc qa retrain", "fit_s": round(time.perf_counter() - t0, 2),
                  "examples": len(training.agent) + len(training.customer),
                  **_before_after(store, settings, name, before, after)}
        model_id = save_step_model(store.db, name, signature=training.signature, embedder=vectors.name,
                                   reviewer_examples=n_reviewer, last_example_id=last_id, state=_judge_bytes(after),
                                   report=report)
        _FITTED[(name, training.signature, vectors.name)] = after
        out[name] = {"refitted": True, "reviewer_examples": n_reviewer, "model_id": model_id, **report}
    return out


def _before_after(store: Store, settings: Settings, script: str, before: Any, after: Any) -> dict[str, Any]:
    """Per rule: how many of the reviewers' current decisions each model's verdict agrees with (calls rescored from
    the store). "after" has learned from these very decisions: it shows the correction took, not generalisation."""
    from voc.qa import verdict_of
    from voc.store.qa_examples import step_examples

    latest: dict[tuple[str, str], bool] = {}
    for e in step_examples(store.db, script):
        if e.interaction_id and e.reviewer_passed is not None:
            latest[(e.interaction_id, e.rule_id)] = e.reviewer_passed
    ids = sorted({i for i, _ in latest})
    if not ids:
        return {"decisions": 0, "before": {}, "after": {}}
    tallies: dict[str, dict[str, dict[str, int]]] = {"before": {}, "after": {}}
    for which, judge in (("before", before), ("after", after)):
        results = score_calls(store, settings, ids, judges={script: judge})
        for iid, result in results.items():
            if result.script != script:
                continue
            verdicts = {o.rule_id: verdict_of(o) for o in result.outcomes}
            for (cid, rule), passed in latest.items():
                if cid != iid or rule not in verdicts:
                    continue
                t = tallies[which].setdefault(rule, {"decisions": 0, "agree": 0, "not_sure": 0})
                t["decisions"] += 1
                if verdicts[rule] == "not_sure":
                    t["not_sure"] += 1
                elif (verdicts[rule] == "pass") == passed:
                    t["agree"] += 1
    for side in tallies.values():
        for t in side.values():
            t["agreement"] = round(t["agree"] / t["decisions"], 3) if t["decisions"] else None
    return {"decisions": len(latest), **tallies}


def step_agreement_table(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows (rule, decisions, before, after) of one script's refit report, for display."""
    rules = sorted(set(report.get("before", {})) | set(report.get("after", {})))
    return [{"rule": r, "decisions": (report.get("after", {}).get(r) or report.get("before", {}).get(r) or {}).get(
        "decisions", 0), "before": (report.get("before", {}).get(r) or {}).get("agreement"),
             "after": (report.get("after", {}).get(r) or {}).get("agreement")} for r in rules]
