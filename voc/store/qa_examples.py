"""QA's learning memory: reviewers' step decisions as labelled examples, and the fitted step models (npz bytes with
the signature of the examples they were fitted on, and the before/after agreement report of each refit).

A decision (override, resolve or appeal outcome) names a rule and the reviewer's verdict; the text it labels is the
utterance the reviewer points at, else the machine's evidence for that rule. A later decision on the same call and
rule supersedes the earlier ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, LargeBinary, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from voc.store.db import Database
from voc.store.schema import Base, QAResultRow, UtteranceRow, utcnow

__all__ = [
    "FORBIDDEN_RULE",
    "QAStepExampleRow",
    "QAStepModelRow",
    "StepDecision",
    "StepExample",
    "StoredStepModel",
    "latest_step_model",
    "machine_verdict",
    "record_step_decisions",
    "save_step_model",
    "step_agreement",
    "step_examples",
]

FORBIDDEN_RULE = "forbidden_phrases"  # its "said" is inverted: a violation is a rude line said
# How voc.qa stores a "not sure" verdict: passed, weight 0, a detail starting with this (voc.qa.scorer.NOT_SURE_DETAIL).
NOT_SURE_DETAIL = "not sure"
SOURCES = ("override", "resolve", "appeal", "manual")


class QAStepExampleRow(Base):
    """One reviewer decision on one rule of one call, and the text it labels ('' when no text could be told)."""

    __tablename__ = "qa_step_examples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    script: Mapped[str] = mapped_column(String(64), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)  # redacted utterance text, as stored
    said: Mapped[bool] = mapped_column(Boolean)  # the text says the step (for forbidden_phrases: is rude)
    interaction_id: Mapped[str | None] = mapped_column(String(64), index=True)
    idx: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # override | resolve | appeal | manual
    reviewer: Mapped[str | None] = mapped_column(String(64))
    review_id: Mapped[int | None] = mapped_column(Integer)
    machine_verdict: Mapped[str | None] = mapped_column(String(16))  # pass | fail | not_sure when decided
    reviewer_passed: Mapped[bool | None] = mapped_column(Boolean)  # the reviewer's verdict on the rule
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QAStepModelRow(Base):
    """A fitted step model of one script; the newest row per script is the one in use."""

    __tablename__ = "qa_step_models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    script: Mapped[str] = mapped_column(String(64), index=True)
    signature: Mapped[str] = mapped_column(String(64))  # of the training set (script examples + reviewer examples)
    embedder: Mapped[str] = mapped_column(String(200))
    reviewer_examples: Mapped[int] = mapped_column(Integer, default=0)
    last_example_id: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[bytes] = mapped_column(LargeBinary)  # npz
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True, slots=True)
class StepDecision:
    """A reviewer's verdict on one rule of a call: ``passed`` True = the step was done / no violation; ``idx`` the
    utterance that shows it (default: the machine's evidence for the rule)."""

    rule_id: str
    passed: bool
    idx: int | None = None

    @classmethod
    def parse(cls, spec: str) -> StepDecision:
        """``rule=pass``, ``rule=fail``, optionally ``@idx``: ``identity_check=pass@2``."""
        rule, sep, rest = spec.partition("=")
        verdict, _, idx = rest.partition("@")
        if not sep or not rule.strip() or verdict.strip() not in ("pass", "fail"):
            raise ValueError(f"step decision {spec!r}: expected RULE=pass or RULE=fail, optionally @UTTERANCE_IDX")
        try:
            index = int(idx) if idx.strip() else None
        except ValueError:
            raise ValueError(f"step decision {spec!r}: the utterance index after @ must be a number") from None
        return cls(rule.strip(), verdict.strip() == "pass", index)


@dataclass(frozen=True, slots=True)
class StepExample:
    id: int
    script: str
    rule_id: str
    text: str
    said: bool
    interaction_id: str | None
    idx: int | None
    source: str
    reviewer: str | None
    machine_verdict: str | None
    reviewer_passed: bool | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class StoredStepModel:
    id: int
    script: str
    signature: str
    embedder: str
    reviewer_examples: int
    last_example_id: int
    state: bytes
    report: dict[str, Any]
    fitted_at: dt.datetime


def machine_verdict(outcome: dict[str, Any] | None) -> str | None:
    if outcome is None:
        return None
    if str(outcome.get("detail") or "").startswith(NOT_SURE_DETAIL):
        return "not_sure"
    return "pass" if outcome.get("passed", True) else "fail"


def record_step_decisions(s: Session, interaction_id: str, decisions: Sequence[StepDecision], *, source: str,
                          reviewer: str | None, review_id: int | None = None) -> list[dict[str, Any]]:
    """Store ``decisions`` as labelled examples inside the caller's transaction; returns them for the history."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    qa = s.get(QAResultRow, interaction_id)
    if qa is None:
        raise ValueError(f"call {interaction_id} has no QA result: step decisions need the machine's verdicts")
    outcomes = {o.get("rule_id"): o for o in qa.outcomes or ()}
    unknown = [d.rule_id for d in decisions if d.rule_id not in outcomes]
    if unknown:
        raise ValueError(f"call {interaction_id}: no rule {unknown[0]!r} in its QA result; expected one of "
                         f"{sorted(k for k in outcomes if k)}")
    out = []
    for d in decisions:
        outcome = outcomes[d.rule_id]
        said = (not d.passed) if d.rule_id == FORBIDDEN_RULE else d.passed
        texts: list[tuple[int | None, str]] = []
        if d.idx is not None:
            row = s.scalars(select(UtteranceRow).where(UtteranceRow.interaction_id == interaction_id,
                                                       UtteranceRow.idx == d.idx)).first()
            if row is None:
                raise ValueError(f"call {interaction_id} has no utterance {d.idx}")
            texts.append((d.idx, row.text))
        else:
            for ev in outcome.get("evidence") or ():
                if ev.get("text"):
                    texts.append((ev.get("idx"), str(ev["text"])))
        s.execute(update(QAStepExampleRow).where(QAStepExampleRow.interaction_id == interaction_id,
                                                 QAStepExampleRow.rule_id == d.rule_id,
                                                 QAStepExampleRow.superseded.is_(False)).values(superseded=True))
        verdict = machine_verdict(outcome)
        for idx, text in texts or [(None, "")]:
            s.add(QAStepExampleRow(script=qa.script, rule_id=d.rule_id, text=text, said=said,
                                   interaction_id=interaction_id, idx=idx, source=source, reviewer=reviewer,
                                   review_id=review_id, machine_verdict=verdict, reviewer_passed=d.passed))
        out.append({"rule": d.rule_id, "passed": d.passed, "machine": verdict, "examples": len(texts)})
    return out


def step_examples(db: Database, script: str | None = None, *, active_only: bool = True) -> list[StepExample]:
    """Labelled examples in decision order (superseded ones left out unless ``active_only`` is False)."""
    q = select(QAStepExampleRow).order_by(QAStepExampleRow.id)
    if script is not None:
        q = q.where(QAStepExampleRow.script == script)
    if active_only:
        q = q.where(QAStepExampleRow.superseded.is_(False))
    with db.session() as s:
        return [StepExample(r.id, r.script, r.rule_id, r.text, r.said, r.interaction_id, r.idx, r.source, r.reviewer,
                            r.machine_verdict, r.reviewer_passed, r.created_at) for r in s.scalars(q)]


def step_agreement(db: Database, script: str | None = None) -> dict[str, dict[str, Any]]:
    """Per rule, over the current decision of each (call, rule): how often the machine's verdict at the time agreed
    with the reviewer (``not_sure`` counted apart: it asked instead of deciding)."""
    latest: dict[tuple[str | None, str], StepExample] = {}
    for e in step_examples(db, script):
        latest[(e.interaction_id, e.rule_id)] = e
    per: dict[str, dict[str, Any]] = {}
    for (_, rule), e in sorted(latest.items(), key=lambda kv: kv[1].id):
        st = per.setdefault(rule, {"decisions": 0, "agree": 0, "disagree": 0, "not_sure": 0})
        st["decisions"] += 1
        if e.machine_verdict == "not_sure":
            st["not_sure"] += 1
        elif (e.machine_verdict == "pass") == bool(e.reviewer_passed):
            st["agree"] += 1
        else:
            st["disagree"] += 1
    for st in per.values():
        st["agreement"] = round(st["agree"] / st["decisions"], 3) if st["decisions"] else None
    return dict(sorted(per.items()))


def latest_step_model(db: Database, script: str) -> StoredStepModel | None:
    q = select(QAStepModelRow).where(QAStepModelRow.script == script).order_by(QAStepModelRow.id.desc()).limit(1)
    with db.session() as s:
        r = s.scalars(q).first()
        if r is None:
            return None
        return StoredStepModel(r.id, r.script, r.signature, r.embedder, r.reviewer_examples, r.last_example_id,
                               bytes(r.state), dict(r.report or {}), r.fitted_at)


def step_model_reports(db: Database, script: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """The newest refits' reports (newest first), without the model bytes."""
    q = select(QAStepModelRow.id, QAStepModelRow.script, QAStepModelRow.reviewer_examples, QAStepModelRow.report,
               QAStepModelRow.fitted_at).order_by(QAStepModelRow.id.desc()).limit(limit)
    if script is not None:
        q = q.where(QAStepModelRow.script == script)
    with db.session() as s:
        return [{"id": i, "script": sc, "reviewer_examples": n, "fitted_at": at.isoformat() if at else None,
                 **(rep or {})} for i, sc, n, rep, at in s.execute(q)]


def save_step_model(db: Database, script: str, *, signature: str, embedder: str, reviewer_examples: int,
                    last_example_id: int, state: bytes, report: dict[str, Any]) -> int:
    with db.session() as s:
        row = QAStepModelRow(script=script, signature=signature, embedder=embedder,
                             reviewer_examples=reviewer_examples, last_example_id=last_example_id, state=state,
                             report=report)
        s.add(row)
        s.flush()
        return int(row.id)
