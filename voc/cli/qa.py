"""`voc qa`: score a transcript; list, claim, resolve, override and appeal review items (step verdicts become labelled
examples); retrain the step model; calibration; export."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from voc.cli.common import emit_json, err, fail, open_store, out, settings
from voc.cli.qa_items import contacts_of, find_item, item_dict

__all__ = ["qa_app"]


qa_app = typer.Typer(help="Script adherence QA: score a transcript; list, claim, resolve, override and appeal review "
                          "items (with step verdicts the step model learns from); retrain; calibration; export.",
                     no_args_is_help=True)


QA_EXPORT_COLUMNS = ("id", "interaction_id", "external_id", "queue", "status", "reasons", "priority", "machine_score",
                     "score_override", "assignee", "comment", "appeal_reason", "claimed_at", "created_at", "contact_id",
                     "channel", "business_date")


def _review_queue(s=None):
    from voc.store.review import ReviewQueue

    s = s or settings()
    store = open_store(s)
    return store, ReviewQueue(store.db, s.qa.claim_lease_minutes)


def _read_transcripts(path: Path) -> list[dict[str, Any]]:
    """One JSON object, or JSON Lines (what `voc transcribe --json` prints for several files)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise fail(f"{path}: {exc.strerror or exc}") from None
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        pass
    docs = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise fail(f"{path}: line {n}: not JSON ({exc.msg})") from None
    if not docs:
        raise fail(f"{path}: no transcript in the file")
    return docs


_VERDICT_LABEL = {"pass": "PASS", "fail": "FAIL", "not_sure": "NOT SURE"}


def _verdict(passed: bool | None, detail: str | None) -> str:
    from voc.store.qa_examples import machine_verdict

    return machine_verdict({"passed": passed, "detail": detail}) or "pass"


def _store_if_any(s):
    """The configured store when it exists (None otherwise, and no error: scoring a file needs no database)."""
    from sqlalchemy.engine import make_url

    from voc.store import Store
    from voc.store.db import Database, current_revision, head_revision, normalise_url

    url = make_url(normalise_url(s.db_url))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).is_file():
        return None
    try:
        db = Database(s.db_url, auto_migrate=False)
        if current_revision(db.engine) != head_revision():
            db.dispose()
            return None
    except Exception:  # an unreachable database only means: no stored model to borrow
        return None
    return Store(db)


def _step_judge(s, script: str, *, customers: bool = True):
    """The step model for ``script``: the store's current one when a store exists, else fitted from the examples."""
    from voc.pipeline.adhoc import load_scripts
    from voc.pipeline.qa import StepVectors, step_judge

    book = load_scripts(s.qa.rules_dir)
    store = _store_if_any(s)
    try:
        judge, _ = step_judge(store, s, book, script, StepVectors(store, book), save=False)
    except (OSError, ValueError, ImportError) as exc:
        raise fail(f"step model: {exc}") from None
    if not customers:  # --no-sentiment: the customer's mood is not judged at all
        from dataclasses import replace

        judge = replace(judge, customer=None)
    return judge


def _steps(specs: list[str] | None):
    from voc.store.qa_examples import StepDecision

    try:
        return [StepDecision.parse(x) for x in specs or ()]
    except ValueError as exc:
        raise fail(str(exc)) from None


REF_HELP = ("review item number (14 or #14) or the call's id: C009, call:C009 when two sources share the id, or the "
            "internal id call-…")
STEP_HELP = ("the reviewer's verdict on one rule, kept as a labelled example the step model learns from: RULE=pass or "
             "RULE=fail, optionally @UTTERANCE_IDX of the turn that shows it (default: the machine's evidence); repeat "
             "for several rules")


@qa_app.command("score")
def qa_score(
    transcript: Annotated[Path, typer.Argument(help="transcript JSON (what `voc transcribe --json` prints; JSON Lines: one result per line)")],
    queue: Annotated[str | None, typer.Option("--queue", "-q", help="queue whose script applies (default: qa.default_script)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help='print {"score", "rules": [{"rule", "passed", "evidence"}]}')] = False,
    use_sentiment: Annotated[bool, typer.Option("--sentiment/--no-sentiment", help="judge the customer's mood: sentiment with the configured scorer and complaints by the step model (conditional steps such as empathy need it)")] = True,
    use_model: Annotated[bool | None, typer.Option("--model/--no-model", help="recognise steps by meaning with the step model (default: qa.step_model); --no-model: phrase rules only")] = None,
) -> None:
    """Score a call transcript against its queue's script (nothing is stored; a store, when there is one, lends its
    current step model and vector cache)."""
    from voc.pipeline.adhoc import ScriptError, TranscriptFormatError, load_scripts, transcript_from_json
    from voc.pipeline.adhoc import score_qa as score_call
    from voc.records import Role, SentimentScore
    from voc.semantic import qa_embedder

    s = settings()
    try:
        script = load_scripts(s.qa.rules_dir).for_queue(queue, s.qa.default_script)
    except (ScriptError, KeyError, ValueError) as exc:
        raise fail(str(exc)) from None
    scorer = None
    if use_sentiment:
        from voc.pipeline.adhoc import get_scorer, label_for

        try:
            scorer = get_scorer(s.sentiment)
        except (OSError, ValueError, ImportError) as exc:
            raise fail(f"sentiment scorer: {exc}") from None
    embedder = qa_embedder() if s.qa.semantic_matching else None
    judge = None
    if s.qa.step_model if use_model is None else use_model:
        judge = _step_judge(s, script.name, customers=use_sentiment)
    for k, doc in enumerate(_read_transcripts(transcript), start=1):
        try:
            t = transcript_from_json(doc, source=f"{transcript}" + (f" record {k}" if k > 1 else ""))
        except TranscriptFormatError as exc:
            raise fail(str(exc)) from None
        sentiments = []
        if scorer is not None:
            cust = [u for u in t.utterances if u.role != Role.AGENT and u.text.strip()]
            values = scorer.score([u.text for u in cust]) if cust else []
            sentiments = [SentimentScore(t.interaction_id, u.idx, float(v),
                                         label_for(float(v), s.sentiment.negative_threshold, s.sentiment.positive_threshold))
                          for u, v in zip(cust, values, strict=True)]
        r = score_call(t.utterances, t.metrics, sentiments, script, s.qa, s.seed, queue=queue,
                       interaction_id=t.interaction_id, embedder=embedder, judge=judge)
        if json_out:
            emit_json({"interaction_id": r.interaction_id, "queue": r.queue, "script": r.script, "score": r.score,
                       "review_reasons": list(r.review_reasons), "step_model": judge is not None,
                       "rules": [{"rule": o.rule_id, "name": o.name, "passed": o.passed, "weight": o.weight,
                                  "detail": o.detail, "evidence": [dict(e) for e in o.evidence],
                                  "verdict": _verdict(o.passed, o.detail)} for o in r.outcomes]})
            continue
        sys.stdout.write(f"{r.interaction_id}  script {r.script}  score {r.score:.1f}"
                         + (f"  review: {', '.join(r.review_reasons)}" if r.review_reasons else "") + "\n")
        for o in r.outcomes:
            ev = o.evidence[0] if o.evidence else None
            where = f"  @{ev.get('start', 0):.1f}s {ev.get('text', '')}" if ev else ""
            sys.stdout.write(f"  {_VERDICT_LABEL[_verdict(o.passed, o.detail)]}  {o.rule_id:<20} {o.detail}{where}\n")


@qa_app.command("list")
def qa_list(
    status: Annotated[str | None, typer.Option("--status", help="open, claimed, resolved, appealed or closed")] = None,
    queue: Annotated[str | None, typer.Option("--queue", "-q")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="e.g. low_score, forbidden_phrase, negative_customer, uncertain_step, random_sample")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON array of review items")] = False,
) -> None:
    """Review items, highest priority first."""
    from voc.store.review import APPEALED, CLAIMED, CLOSED, OPEN, RESOLVED

    if status is not None and status not in (OPEN, CLAIMED, RESOLVED, APPEALED, CLOSED):
        raise fail(f"--status: '{status}' is not one of open, claimed, resolved, appealed, closed")
    store, q = _review_queue()
    items = q.items(status=status, queue=queue, reason=reason, limit=limit)
    machine = {r["interaction_id"]: r for r in store.qa_results([i.interaction_id for i in items])} if items else {}
    refs = contacts_of(store, items)
    rows = [item_dict(i, machine.get(i.interaction_id), q.lease_minutes, refs.get(i.interaction_id)) for i in items]
    if json_out:
        emit_json([{k: v for k, v in r.items() if k != "history"} for r in rows])
        return
    from rich import box

    table = Table("#", "call", "date", "queue", "status", "score", "reasons", "prio.", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for col in table.columns[:3]:  # the id people type (`voc qa show C009`) and its date: never cut
        col.no_wrap = True
    for col in table.columns[3:]:
        col.overflow = "fold"
    table.columns[6].min_width = max((len(x) for r in rows for x in r["reasons"]), default=7)
    for r in rows:
        who = "\n".join(x for x in (r["status"], r["assignee"], "(lease expired)" if r["lease_expired"] else None) if x)
        table.add_row(str(r["id"]), r["contact_id"], r["business_date"] or "", r["queue"], who,
                      "" if r["machine_score"] is None else f"{r['machine_score']:.0f}", "\n".join(r["reasons"]),
                      f"{r['priority']:.1f}")
    out.print(table)


@qa_app.command("show")
def qa_show(
    ref: Annotated[str, typer.Argument(help=REF_HELP)],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object: the `qa list --json` shape plus history and rules (docs/cli.md)")] = False,
) -> None:
    """One review item with the machine's per-rule verdicts and evidence, and its history."""
    store, q = _review_queue()
    item = find_item(q, store, ref)
    res = store.qa_results([item.interaction_id])
    contact = contacts_of(store, [item]).get(item.interaction_id)
    d = item_dict(item, res[0] if res else None, q.lease_minutes, contact)
    d["rules"] = [{"rule": o.get("rule_id"), "name": o.get("name"), "passed": o.get("passed"), "weight": o.get("weight"),
                   "detail": o.get("detail"), "evidence": o.get("evidence") or [],
                   "verdict": _verdict(o.get("passed"), o.get("detail"))} for o in (res[0]["outcomes"] if res else [])]
    if json_out:
        emit_json(d)
        return
    score = "" if d["machine_score"] is None else f"  machine score {d['machine_score']:.1f}"
    sys.stdout.write(f"#{d['id']} {contact.describe() if contact else d['interaction_id']}  {d['queue']}  {d['status']}"
                     + (f" ({d['assignee']})" if d["assignee"] else "") + score + f"  reasons: {', '.join(d['reasons'])}\n")
    if d["score_override"] is not None or d["comment"]:
        sys.stdout.write(f"  reviewer: {d['score_override']}  {d['comment'] or ''}\n")
    for r in d["rules"]:
        ev = r["evidence"][0] if r["evidence"] else None
        where = f"  @{ev.get('start', 0):.1f}s {ev.get('text', '')}" if ev else ""
        sys.stdout.write(f"  {_VERDICT_LABEL[r['verdict']]}  {r['rule']:<20} {r['detail'] or ''}{where}\n")
    for h in d["history"]:
        sys.stdout.write(f"  {h.get('at', '')[:19]}  {h.get('action')}  {h.get('by') or ''}\n")


def _qa_act(store, fn, *args, **kwargs) -> None:
    from voc.store.review import ReviewError

    try:
        item = fn(*args, **kwargs)
    except ReviewError as exc:
        raise fail(str(exc), 1) from None
    emit_json(item_dict(item, contact=contacts_of(store, [item]).get(item.interaction_id)))


@qa_app.command("claim")
def qa_claim(
    ref: Annotated[str | None, typer.Argument(help=REF_HELP + " (or use --next)")] = None,
    reviewer: Annotated[str, typer.Option("--as", help="reviewer name")] = ...,
    next_: Annotated[bool, typer.Option("--next", help="claim the highest-priority open item")] = False,
    queue: Annotated[str | None, typer.Option("--queue", "-q", help="with --next: only this queue")] = None,
) -> None:
    """Claim an item (prints it as JSON). Claims older than qa.claim_lease_minutes can be taken over."""
    if (ref is None) == (not next_):
        raise fail("give an item ID or --next (not both)")
    store, q = _review_queue()
    if next_:
        item = q.claim_next(reviewer, queue)
        if item is None:
            raise fail("nothing to claim: the queue has no open item" + (f" in {queue}" if queue else ""), 1)
        emit_json(item_dict(item, contact=contacts_of(store, [item]).get(item.interaction_id)))
        return
    _qa_act(store, q.claim, find_item(q, store, ref).id, reviewer)


@qa_app.command("release")
def qa_release(
    ref: Annotated[str, typer.Argument(help=REF_HELP)],
    reviewer: Annotated[str, typer.Option("--as", help="reviewer name (must hold the claim)")] = ...,
) -> None:
    """Give a claimed item back to the queue."""
    store, q = _review_queue()
    _qa_act(store, q.release, find_item(q, store, ref).id, reviewer)


@qa_app.command("resolve")
def qa_resolve(
    ref: Annotated[str, typer.Argument(help=REF_HELP)],
    reviewer: Annotated[str, typer.Option("--as", help="reviewer name (must hold the claim)")] = ...,
    score: Annotated[float | None, typer.Option("--score", min=0, max=100, help="the reviewer's score 0-100 (overrides the machine's)")] = None,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    step: Annotated[list[str] | None, typer.Option("--step", help=STEP_HELP)] = None,
) -> None:
    """Resolve one's claimed item, optionally with a score override, a comment and step verdicts."""
    store, q = _review_queue()
    _qa_act(store, q.resolve, find_item(q, store, ref).id, reviewer, score_override=score, comment=comment, steps=_steps(step))


@qa_app.command("override")
def qa_override(
    ref: Annotated[str, typer.Argument(help=REF_HELP)],
    reviewer: Annotated[str, typer.Option("--as", help="reviewer name (must hold the claim)")] = ...,
    step: Annotated[list[str] | None, typer.Option("--step", help=STEP_HELP)] = None,
    score: Annotated[float | None, typer.Option("--score", min=0, max=100, help="the reviewer's score 0-100")] = None,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
) -> None:
    """Overrule the machine on some rules of one's claimed item (and/or note a score or comment) without resolving it."""
    store, q = _review_queue()
    _qa_act(store, q.annotate, find_item(q, store, ref).id, reviewer, score_override=score, comment=comment, steps=_steps(step))


@qa_app.command("appeal")
def qa_appeal(
    ref: Annotated[str, typer.Argument(help=REF_HELP)],
    by: Annotated[str, typer.Option("--as", help="who appeals (usually the agent)")] = ...,
    reason: Annotated[str, typer.Option("--reason", help="why the review is wrong")] = ...,
) -> None:
    """Appeal a resolved review; a supervisor decides it with `voc qa decide`."""
    store, q = _review_queue()
    _qa_act(store, q.appeal, find_item(q, store, ref).id, by, reason)


@qa_app.command("decide")
def qa_decide(
    ref: Annotated[str, typer.Argument(help=REF_HELP)],
    supervisor: Annotated[str, typer.Option("--as", help="second reviewer")] = ...,
    score: Annotated[float | None, typer.Option("--score", min=0, max=100, help="new score; omit to keep the first review's")] = None,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    step: Annotated[list[str] | None, typer.Option("--step", help=STEP_HELP + "; supersedes the first review's")] = None,
) -> None:
    """Second review of an appealed item: closes it, with a new score or keeping the first one."""
    store, q = _review_queue()
    _qa_act(store, q.decide_appeal, find_item(q, store, ref).id, supervisor, score_override=score, comment=comment,
            steps=_steps(step))


@qa_app.command("retrain")
def qa_retrain(
    script: Annotated[list[str] | None, typer.Option("--script", help="only these scripts (default: all)")] = None,
    force: Annotated[bool, typer.Option("--force", help="refit even when nothing changed")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object per script")] = False,
) -> None:
    """Refit the step model on the scripts' examples plus every reviewer step decision; shows per rule how often the
    machine agreed with the reviewers before and after."""
    from voc.pipeline.qa import retrain, step_agreement_table

    s = settings()
    store = open_store(s)
    try:
        rep = retrain(store, s, script, force=force)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit_json(rep)
        return
    for name, r in rep.items():
        if not r["refitted"]:
            out.print(f"{name}: up to date ({r['reviewer_examples']} reviewer examples); --force refits anyway")
            continue
        out.print(f"{name}: refitted on {r['examples']} examples ({r['reviewer_examples']} from reviewers) in "
                  f"{r['fit_s']:.1f} s; {r.get('decisions', 0)} reviewer decisions")
        table = Table("rule", "decisions", "agreement before", "agreement after")
        for row in step_agreement_table(r):
            table.add_row(row["rule"], str(row["decisions"]), _pct(row["before"]), _pct(row["after"]))
        if r.get("decisions"):
            out.print(table)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


@qa_app.command("calibration")
def qa_calibration(
    queue: Annotated[str | None, typer.Option("--queue", "-q")] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0, help="two scores agree when this close")] = 5.0,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object (docs/cli.md)")] = False,
) -> None:
    """Reviewer vs machine (overrides, mean |override - machine|) and reviewer vs reviewer after appeals."""
    s = settings()
    _store, q = _review_queue(s)
    rep = q.calibration(pass_mark=s.qa.review_score_below, tolerance=tolerance, queue=queue).to_dict()
    if json_out:
        emit_json(rep)
        return

    def fmt(v: Any, pct: bool = False) -> str:
        return "-" if v is None else (f"{100 * v:.0f}%" if pct else f"{v:.1f}")

    table = Table("reviewer", "reviewed", "overrides", "override share", "mean |override - machine|")
    for name, st in [*rep["by_reviewer"].items(), ("(all)", rep["reviewer_vs_machine"])]:
        table.add_row(name, str(st["reviewed"]), str(st["overrides"]), fmt(st["override_share"], True), fmt(st["mean_abs_diff"]))
    out.print(table)
    rr = rep["reviewer_vs_reviewer"]
    out.print(f"second reviews after appeal: {rr['pairs']}; mean |difference| {fmt(rr['mean_abs_diff'])}; "
              f"within {rr['tolerance']:g} points {fmt(rr['agreement'], True)}; same verdict {fmt(rr['same_verdict'], True)}")
    if rep["by_step"]:
        table = Table("rule", "step decisions", "machine agreed", "machine not sure", "machine disagreed")
        for rule, st in rep["by_step"].items():
            table.add_row(rule, str(st["decisions"]), fmt(st["agreement"], True), str(st["not_sure"]), str(st["disagree"]))
        out.print(table)
    from voc.pipeline.qa import step_agreement_table

    for r in rep["retrains"]:
        if not r.get("decisions"):
            continue
        table = Table("rule", "decisions", "agreement before", "agreement after",
                      title=f"step model refit #{r['id']} ({r['script']}, {(r.get('fitted_at') or '')[:19]}, {r.get('reason', '')})")
        for row in step_agreement_table(r):
            table.add_row(row["rule"], str(row["decisions"]), fmt(row["before"], True), fmt(row["after"], True))
        out.print(table)


@qa_app.command("export")
def qa_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv (UTF-8 with BOM, opens in Excel) or parquet")] = "csv",
    status: Annotated[str | None, typer.Option("--status")] = None,
    queue: Annotated[str | None, typer.Option("--queue", "-q")] = None,
) -> None:
    """Export the review queue (one row per item, the machine score next to the reviewer's)."""
    from voc.csvsafe import SafeDictWriter

    if fmt not in ("csv", "parquet"):
        raise fail(f"--format: '{fmt}' is not csv or parquet")
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise fail("Parquet export needs pyarrow: pip install 'voc[export]' (or pyarrow); CSV works without it") from None
    store, q = _review_queue()
    items = q.items(status=status, queue=queue, limit=10**9)
    ids = [i.interaction_id for i in items]
    machine = {r["interaction_id"]: r["score"] for r in store.qa_results(ids)} if ids else {}
    refs = contacts_of(store, items)
    rows = []
    for i in items:
        c = refs.get(i.interaction_id)
        rows.append({"id": i.id, "interaction_id": i.interaction_id, "external_id": c.external_id if c else None,
                     "queue": i.queue, "status": i.status, "reasons": ";".join(i.reasons), "priority": float(i.priority),
                     "machine_score": machine.get(i.interaction_id), "score_override": i.score_override,
                     "assignee": i.assignee, "comment": i.comment, "appeal_reason": i.appeal_reason,
                     "claimed_at": i.claimed_at.isoformat() if i.claimed_at else None,
                     "created_at": i.created_at.isoformat() if i.created_at else None,
                     "contact_id": c.contact_id if c else i.interaction_id, "channel": c.channel if c else None,
                     "business_date": c.business_date.isoformat() if c else None})
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with output.open("w", encoding="utf-8-sig", newline="") as fh:
            w = SafeDictWriter(fh, fieldnames=QA_EXPORT_COLUMNS)  # comments are free text
            w.writeheader()
            w.writerows(rows)
    else:
        schema = pa.schema([("id", pa.int64()), ("interaction_id", pa.string()), ("external_id", pa.string()),
                            ("queue", pa.string()), ("status", pa.string()), ("reasons", pa.string()),
                            ("priority", pa.float64()), ("machine_score", pa.float64()), ("score_override", pa.float64()),
                            ("assignee", pa.string()), ("comment", pa.string()), ("appeal_reason", pa.string()),
                            ("claimed_at", pa.string()), ("created_at", pa.string()), ("contact_id", pa.string()),
                            ("channel", pa.string()), ("business_date", pa.string())])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), output)
    err.print(f"wrote {len(rows)} review items to {output}")
