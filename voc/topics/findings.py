"""A night's topic news as findings: emerging topics, busy topics and bursting terms, with tonight's labels and a
two-week trend; plus the detection both the nightly stage and ``voc watch`` run (one emerging loop)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from voc.config import TopicSettings
from voc.records import Finding, Interaction
from voc.semantic.tokens import tokenize_many
from voc.topics.bursts import TermBurst, detect_term_bursts, dominant_topic
from voc.topics.emerging import EmergingTopic, detect_emerging

TREND_DAYS = 14  # days of daily counts a topic finding carries (digest sparkline)


def tokens_by_id(docs: Sequence[tuple[Interaction, str]]) -> dict[str, list[str]]:
    """Topic tokens of (interaction, text) documents by interaction id."""
    return {i.id: toks for (i, _t), toks in zip(docs, tokenize_many([t for _i, t in docs]), strict=True)}


def tokens_by_day(docs: Sequence[tuple[Interaction, str]]) -> dict[dt.date, list[list[str]]]:
    """Topic tokens of (interaction, text) documents grouped by business date (term-burst history)."""
    out: dict[dt.date, list[list[str]]] = {}
    for (item, _t), toks in zip(docs, tokenize_many([t for _i, t in docs]), strict=True):
        out.setdefault(item.business_date, []).append(toks)
    return out


def emerging_signals(
    per_day: Mapping[str, Mapping[dt.date, int]], day: dt.date, settings: TopicSettings, labels: Mapping[str, str],
    today_tokens: Mapping[str, Sequence[str]], history: Mapping[dt.date, Sequence[Sequence[str]]],
    topic_of: Mapping[str, str], examples: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[EmergingTopic], list[tuple[TermBurst, str | None]]]:
    """Topics whose count tonight beats their history, and bursting terms with the topic most of their documents
    belong to. Nightly and near-real-time detection both call this."""
    flagged = detect_emerging(per_day, day, settings, labels, examples)
    bursts = [(b, dominant_topic(b.doc_ids, topic_of)) for b in detect_term_bursts(today_tokens, history, day, settings)]
    return flagged, bursts


def tonight_labels(tokens: Mapping[str, list[str]], members: Mapping[str, list[str]]) -> dict[str, str]:
    """Label each topic by what its complaints of tonight say (c-TF-IDF against tonight's other complaints): a
    topic's own label comes from the night it was created and may not describe tonight's news.

    ``tokens``: tonight's complaints' topic tokens by interaction id."""
    from voc.topics.clustering import NOISE, label_clusters, topic_label

    topic_of = {iid: tid for tid, ids in members.items() for iid in ids}
    groups = [topic_of.get(iid, NOISE) for iid in tokens]
    if not tokens or all(g == NOISE for g in groups):
        return {}
    keywords = label_clusters(list(tokens.values()), groups, top_n=3)
    return {tid: topic_label(kws) for tid, kws in keywords.items() if kws}


def topic_finding(kind: str, run_date: dt.date, topic_id: str, label: str, members: Sequence[str],
                  examples: Sequence[str], title: str, summary: str, details: dict[str, Any]) -> Finding:
    prefix = "emerging" if kind == "emerging_topic" else "trend"
    return Finding(id=f"{prefix}:{run_date}:{topic_id}",
                   kind=kind, run_date=run_date, title=title or label, summary=summary, topic_id=topic_id,
                   count=len(members), examples=tuple(examples), interaction_ids=tuple(members), details=details)


def _emerging_finding(e: EmergingTopic, run_date: dt.date, members: Sequence[str], title: str,
                      keywords: Sequence[str]) -> Finding:
    summary = (f"{e.topic_id} «{e.label}»: new topic, {e.count} complaints today" if e.kind == "new" else
               f"{e.topic_id} «{e.label}»: spike, {e.count} complaints today vs {e.baseline:.1f}/day over "
               f"{e.history_days} days (x{e.growth:.1f}, z {e.z:.1f})")
    return topic_finding(
        "emerging_topic", run_date, e.topic_id, e.label, members, e.examples, title, summary,
        {"kind": e.kind, "count": e.count, "baseline": e.baseline, "ratio": e.growth,
         "growth": "new" if e.kind == "new" else round(e.growth - 1.0, 3), "z": e.z,
         "p_value": e.p_value, "first_seen": e.first_seen.isoformat(), "keywords": list(keywords)})


def term_burst_findings(bursts: Sequence[tuple[TermBurst, str | None]], run_date: dt.date, texts: Mapping[str, str],
                        topic_findings: Sequence[Finding], labels: Mapping[str, str], n_examples: int) -> list[Finding]:
    """Bursting terms as findings; a burst mostly inside an emerging topic's finding is folded into it instead
    (its terms added to that finding's ``burst_terms``). ``texts``: tonight's complaint texts by id."""
    out = []
    for b, topic_id in bursts:
        folded = next((f for f in topic_findings if f.kind == "emerging_topic" and f.topic_id == topic_id
                       and len(set(f.interaction_ids) & set(b.doc_ids)) * 2 >= b.count), None)
        if folded is not None:
            folded.details.setdefault("burst_terms", []).extend(b.terms)
            continue
        examples = sorted((texts[i] for i in b.doc_ids), key=len)[:n_examples]
        where = f" (mostly in {topic_id} {labels.get(topic_id, '')})" if topic_id else ""
        out.append(Finding(
            id=f"terms:{run_date}:{b.terms[0]}", kind="emerging_terms", run_date=run_date,
            title=" / ".join(b.terms[:4]), topic_id=topic_id,
            summary=(f"{b.count} complaints today mention {' / '.join(b.terms[:4])}; history predicts "
                     f"{b.expected:.1f} (x{b.growth:.1f}, z {b.z:.1f}){where}"),
            count=b.count, examples=tuple(examples), interaction_ids=b.doc_ids,
            details={"kind": "terms", "terms": list(b.terms), "count": b.count, "expected": b.expected,
                     "ratio": b.growth, "growth": round(b.growth - 1.0, 3), "z": b.z, "p_value": b.p_value,
                     "history_days": b.history_days}))
    return out


def night_findings(
    run_date: dt.date, settings: TopicSettings, flagged: Sequence[EmergingTopic],
    bursts: Sequence[tuple[TermBurst, str | None]], members: Mapping[str, list[str]],
    examples_today: Mapping[str, Sequence[str]], labels: Mapping[str, str], keywords: Mapping[str, Sequence[str]],
    tonight_label: Mapping[str, str], texts: Mapping[str, str], per_day: Mapping[str, Mapping[dt.date, int]],
) -> tuple[list[Finding], list[Finding]]:
    """The night's topic findings (emerging topics, then the busiest other topics, then term bursts), each with
    its topic label and two-week trend; returns (all findings, the term-burst ones).

    ``members``: tonight's interaction ids per topic; ``texts``: tonight's complaint texts by id."""
    findings = [_emerging_finding(e, run_date, members.get(e.topic_id, []), tonight_label.get(e.topic_id, e.label),
                                  keywords.get(e.topic_id, ())) for e in flagged]
    emerging_ids = {e.topic_id for e in flagged}
    counts_today = {tid: len(ids) for tid, ids in members.items()}
    trend = sorted(((tid, n) for tid, n in counts_today.items() if tid not in emerging_ids
                    and n >= settings.trend_min_count), key=lambda x: (-x[1], x[0]))[: settings.trend_top_n]
    for tid, n in trend:
        findings.append(topic_finding(
            "topic_trend", run_date, tid, labels.get(tid, tid), members.get(tid, []), examples_today.get(tid, ()),
            tonight_label.get(tid, labels.get(tid, tid)), f"{tid} «{labels.get(tid, tid)}»: {n} complaints today",
            {"count": n, "keywords": list(keywords.get(tid, ()))}))
    burst_findings = term_burst_findings(bursts, run_date, texts, findings, labels, settings.examples)
    findings += burst_findings
    out = []
    for f in findings:
        if f.topic_id:
            f.details["topic_label"] = labels.get(f.topic_id, "")
        terms = f.details.get("burst_terms")
        if terms:  # the words that burst tonight say best what is new
            head = "/".join(list(dict.fromkeys(terms))[:4])
            f = replace(f, title=head if head in f.title else f"{head} · {f.title}")
        if f.topic_id:  # daily counts of the last two weeks, for the digests' sparkline
            f.details["trend"] = [per_day.get(f.topic_id, {}).get(run_date - dt.timedelta(days=k), 0)
                                  for k in range(TREND_DAYS - 1, -1, -1)]
        out.append(f)
    return out, [f for f in out if f.kind == "emerging_terms"]
