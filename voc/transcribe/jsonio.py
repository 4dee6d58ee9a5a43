"""Transcript <-> JSON, the shape ``voc transcribe --json`` prints and ingest accepts from elsewhere.

Shape (extra keys allowed and ignored)::

    {"interaction_id": "…" (or "call_id"), "language": "zh", "model": "external",
     "duration_s": 63.0,                       # optional; default = last utterance end
     "utterances": [{"role": "agent"|"customer"|"unknown", "start": 0.4, "end": 3.1,
                     "text": "您好，这里是…", "avg_logprob": -0.2, "no_speech_prob": 0.01,   # optional
                     "confidence": 0.8,        # optional, 0..1; default derived from avg_logprob/no_speech_prob
                     "words": [{"start", "end", "word", "probability"}]}],                   # optional
     "metrics": {CallMetrics fields},          # optional; computed from utterances when absent
     "dropped": [{"start", "end", "text", "reason", …}],   # optional
     "options": {…}}                           # optional: how the transcript was made
"""

from __future__ import annotations

import math
from typing import Any

from voc.records import CallMetrics, Role, Transcript, Utterance, Word, to_dict

from .metrics import compute_call_metrics


class TranscriptFormatError(ValueError):
    """A transcript JSON object does not have the expected shape; the message names the field."""


def transcript_to_json(t: Transcript) -> dict[str, Any]:
    """JSON-able dict: ``interaction_id`` and ``call_id`` (same value), utterances, metrics, dropped."""
    return {
        "interaction_id": t.interaction_id,
        "call_id": t.interaction_id,
        "language": t.language,
        "model": t.model,
        "duration_s": t.metrics.duration_s,
        "utterances": [
            {
                "idx": u.idx,
                "role": Role(u.role).value,
                "start": u.start,
                "end": u.end,
                "text": u.text,
                "avg_logprob": u.avg_logprob,
                "no_speech_prob": u.no_speech_prob,
                "confidence": u.confidence,
                "words": [to_dict(w) for w in u.words],
            }
            for u in t.utterances
        ],
        "metrics": {k: v for k, v in to_dict(t.metrics).items() if k != "interaction_id"},
        "dropped": [to_dict(d) for d in t.dropped],
        "options": to_dict(t.options),
    }


def _number(value: Any, where: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TranscriptFormatError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _confidence(value: Any, where: str) -> float | None:
    conf = _number(value, where, optional=True)
    if conf is not None and not 0.0 <= conf <= 1.0:
        raise TranscriptFormatError(f"{where}: expected a number from 0 to 1, got {conf}")
    return conf


def transcript_from_json(
    d: dict[str, Any], interaction_id: str | None = None, source: str = "transcript"
) -> Transcript:
    """Build a :class:`Transcript` from the JSON shape above.

    ``interaction_id`` (the id ingest assigned) wins over the file's ``interaction_id``/``call_id``.
    Utterances are sorted by start and renumbered; metrics are computed when absent. ``source``
    (e.g. the file name) prefixes error messages.
    """
    if not isinstance(d, dict):
        raise TranscriptFormatError(f"{source}: expected a JSON object, got {type(d).__name__}")
    iid = interaction_id or d.get("interaction_id") or d.get("call_id")
    if not iid:
        raise TranscriptFormatError(f"{source}: needs 'interaction_id' or 'call_id' (or pass interaction_id)")
    iid = str(iid)
    raw_utts = d.get("utterances")
    if not isinstance(raw_utts, list):
        raise TranscriptFormatError(f"{source}: 'utterances' must be a list")
    rows = []
    for i, raw in enumerate(raw_utts):
        where = f"{source}: utterances[{i}]"
        if not isinstance(raw, dict):
            raise TranscriptFormatError(f"{where}: expected an object")
        role_value = raw.get("role", "unknown")
        try:
            role = Role(str(role_value).lower())
        except ValueError:
            raise TranscriptFormatError(
                f"{where}.role: {role_value!r} is not one of {', '.join(r.value for r in Role)}"
            ) from None
        start = _number(raw.get("start"), f"{where}.start")
        end = _number(raw.get("end"), f"{where}.end")
        if end < start or start < 0:
            raise TranscriptFormatError(f"{where}: needs 0 <= start <= end, got start={start} end={end}")
        text = raw.get("text")
        if not isinstance(text, str):
            raise TranscriptFormatError(f"{where}.text: expected a string")
        words = []
        for j, w in enumerate(raw.get("words") or ()):
            ww = f"{where}.words[{j}]"
            if not isinstance(w, dict) or not isinstance(w.get("word"), str):
                raise TranscriptFormatError(f"{ww}: expected {{start, end, word, probability}}")
            words.append(
                Word(_number(w.get("start"), f"{ww}.start"), _number(w.get("end"), f"{ww}.end"), w["word"],
                     _number(w.get("probability", 1.0), f"{ww}.probability"))
            )
        rows.append(
            (start, end, role, text, _number(raw.get("avg_logprob"), f"{where}.avg_logprob", optional=True),
             _number(raw.get("no_speech_prob"), f"{where}.no_speech_prob", optional=True), tuple(words),
             _confidence(raw.get("confidence"), f"{where}.confidence"))
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    utterances = tuple(
        Utterance(iid, idx, role, start, end, text, lp, nsp, words, conf)
        for idx, (start, end, role, text, lp, nsp, words, conf) in enumerate(rows)
    )
    duration = _number(d.get("duration_s"), f"{source}: duration_s", optional=True)
    metrics_raw = d.get("metrics")
    if metrics_raw:
        if not isinstance(metrics_raw, dict):
            raise TranscriptFormatError(f"{source}: 'metrics' must be an object")
        fields = set(CallMetrics.__dataclass_fields__) - {"interaction_id"}
        missing = sorted(fields - set(metrics_raw))
        if missing:
            raise TranscriptFormatError(f"{source}: metrics lacks {', '.join(missing)} (or leave metrics out to compute them)")
        metrics = CallMetrics(interaction_id=iid, **{k: metrics_raw[k] for k in fields})
    else:
        metrics = compute_call_metrics(iid, utterances, duration)
    dropped = d.get("dropped") or ()
    if not isinstance(dropped, list | tuple) or not all(isinstance(x, dict) for x in dropped):
        raise TranscriptFormatError(f"{source}: 'dropped' must be a list of objects")
    options = d.get("options") or {}
    if not isinstance(options, dict):
        raise TranscriptFormatError(f"{source}: 'options' must be an object")
    return Transcript(
        interaction_id=iid,
        utterances=utterances,
        metrics=metrics,
        language=str(d.get("language") or "zh"),
        model=str(d.get("model") or "external"),
        options=options,
        dropped=tuple(dropped),
    )
