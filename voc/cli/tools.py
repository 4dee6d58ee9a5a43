"""Ad-hoc text and audio tools (nothing is stored): redact, segment, sentiment, route, transcribe."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from voc.cli.common import emit_json, err, fail, out, read_lines, settings

__all__ = ["COMMANDS", "to_srt"]


def _file_lines(file: Path) -> list[str]:
    """The lines of ``file`` ('-' = stdin) as ``str.splitlines`` cuts them (UTF-8 or GBK, as the inbox reads tables)."""
    if str(file) == "-":
        return sys.stdin.read().splitlines()
    if not file.is_file():
        raise fail(f"{file}: no such file")
    from voc.pipeline.adhoc import decode_table_bytes

    try:
        return decode_table_bytes(file.read_bytes(), str(file))[0].splitlines()
    except ValueError as exc:
        raise fail(str(exc)) from None


def redact(
    text: Annotated[str | None, typer.Argument(help="text to redact")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="one text per line; '-' reads stdin")] = None,
) -> None:
    """Redact PII (phone, ID card, bank card, e-mail, address, name) with typed placeholders.

    With --file, exactly one output line per input line, in the same order.
    """
    from voc.pipeline.adhoc import normalize, redact_lines
    from voc.pipeline.adhoc import redact as redact_text

    s = settings()
    if (text is None) == (file is None):
        raise fail("give TEXT or --file F (not both)")
    if text is not None:
        sys.stdout.write(redact_text(normalize(text), s.text).text + "\n")
        return
    for line in redact_lines(_file_lines(file), s.text):
        sys.stdout.write(line + "\n")


def segment(
    text: Annotated[str, typer.Argument(help="text to segment")],
    no_stopwords: Annotated[bool, typer.Option("--no-stopwords", help="drop stopwords")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON array of tokens")] = False,
) -> None:
    """Segment Chinese text with jieba and the domain dictionary."""
    from voc.pipeline.adhoc import normalize
    from voc.pipeline.adhoc import segment as seg

    tokens = seg(normalize(text), settings().text, drop_stopwords=no_stopwords)
    if json_out:
        emit_json(tokens)
    else:
        sys.stdout.write(" / ".join(tokens) + "\n")


SHORT_LABELS = {"positive": "pos", "negative": "neg", "neutral": "neu"}


def sentiment(
    text: Annotated[str | None, typer.Argument(help="text to score")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="one text per line; '-' reads stdin")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON array aligned with the input lines")] = False,
) -> None:
    """Customer sentiment of a text, or of each line of a file, with the configured scorer.

    Score in [-1, 1] (negative .. positive); label neg / neu / pos by sentiment.negative_threshold and
    positive_threshold. With --json: one array, one {"label", "score", "confidence", "reason"} per input line
    (empty lines: neu, 0, confidence 0.5, reason "empty"); confidence is the calibrated probability that the
    polarity is right, reason "model" or the customer-service rule that set the score.
    """
    from voc.cli.common import Bars
    from voc.pipeline.adhoc import (
        escalation_words_in,
        get_scorer,
        label_for,
        predict_sentiment,
        sentiment_vectors,
    )

    s = settings()
    if (text is None) == (file is None):
        raise fail("give TEXT or --file F (not both)")
    lines = [text] if text is not None else read_lines(file)
    todo = [i for i, line in enumerate(lines) if line.strip()]
    scores, sure, reasons = [0.0] * len(lines), [0.5] * len(lines), ["empty"] * len(lines)
    # an e5-based scorer embeds the lines here, in batches, with a progress bar on a terminal (stderr)
    with Bars(enabled=file is not None and err.is_terminal) as bars:
        try:
            scorer = get_scorer(s.sentiment, vectors=sentiment_vectors(lambda done, total: bars("e5", done, total)))
        except (OSError, ValueError, ImportError) as exc:
            raise fail(f"sentiment scorer: {exc}") from None
        preds = predict_sentiment(scorer, [lines[i] for i in todo]) if todo else []
    for i, pred in zip(todo, preds, strict=True):
        scores[i] = round(max(-1.0, min(1.0, float(pred.score))), 4)
        sure[i], reasons[i] = round(float(pred.confidence), 4), pred.reason
    labels = [SHORT_LABELS[label_for(v, s.sentiment.negative_threshold, s.sentiment.positive_threshold)] for v in scores]
    if json_out:
        emit_json([{"label": lab, "score": v, "confidence": c, "reason": r}
                   for lab, v, c, r in zip(labels, scores, sure, reasons, strict=True)])
        return
    if text is not None:
        words = escalation_words_in(text)
        sys.stdout.write(f"{labels[0]} {scores[0]:+.3f} ({scorer.name})\n")
        if words:
            sys.stdout.write(f"escalation words: {', '.join(words)}\n")
        return
    for lab, v, line in zip(labels, scores, lines, strict=True):
        sys.stdout.write(f"{lab}\t{v:+.3f}\t{line}\n")


def _store_if_any(s):
    """The configured store when it already holds voc's schema, else None (ad-hoc tools never create a database)."""
    from sqlalchemy.engine import make_url

    from voc.store import Store, StoreError
    from voc.store.db import Database, current_revision, head_revision, migrate, normalise_url

    url = make_url(normalise_url(s.db_url))
    if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:") or not Path(url.database).is_file()):
        return None
    try:
        db = Database(s.db_url, auto_migrate=False)
        revision = current_revision(db.engine)
        if revision is None:
            db.dispose()
            return None
        if revision != head_revision():
            migrate(db.engine)  # as every open of an older store does
        return Store(db)
    except (StoreError, OSError, ValueError) as exc:
        err.print(f"[yellow]note:[/yellow] store not readable ({exc}); routing with the shipped model")
        return None


def route(
    text: Annotated[str | None, typer.Argument(help="a complaint or finding text; 'retrain' refits the model")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="one text per line; '-' reads stdin")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="a JSON array aligned with the input lines")] = False,
) -> None:
    """Which department owns this? Department, service type(s), confidence and the reason.

    Uses the latest routing model of the configured store (learned corrections included) when the store exists,
    else the shipped examples; nothing is stored. --json: one {"department", "service_type", "confidence",
    "reason", "service_types", "candidates"} per input line. `voc route retrain` refits the model on every
    labelled example (shipped files, confirmations and corrections) and stores it.
    """
    from voc.pipeline.adhoc import normalize
    from voc.pipeline.routing import retrain, route_router

    s = settings()
    if text == "retrain" and file is None:
        from voc.cli.common import open_store

        try:
            result = retrain(open_store(s), s)
        except ValueError as exc:
            raise fail(str(exc)) from None
        if json_out:
            emit_json(result)
        else:
            deps = result["departments"]
            out.print(f"routing model refitted in {result['seconds']:.1f} s on {deps['trained_on']} examples "
                      f"({', '.join(f'{k} {v}' for k, v in sorted(deps['sources'].items()))}); "
                      f"{result['learned_examples']} learned, {result['memory_examples_imported']} imported from route memory")
        return
    if (text is None) == (file is None):
        raise fail("give TEXT or --file F (not both)")
    lines = [text] if text is not None else _file_lines(file)
    try:
        router, _info = route_router(_store_if_any(s), s, save=False)
    except ValueError as exc:
        raise fail(str(exc)) from None
    decisions = router.route_many([normalize(x) for x in lines])
    if json_out:
        emit_json([d.to_json(detail=True) for d in decisions])
        return
    for line, d in zip(lines, decisions, strict=True):
        kinds = "+".join(d.service_types or (d.service_type,))
        out.print(f"{d.department}\t{kinds}\t{d.confidence:.2f}\t{d.reason}\t{line[:40]}", markup=False, highlight=False)


def transcribe(
    files: Annotated[list[Path], typer.Argument(help="recordings (wav, mp3, m4a, ogg/opus, amr ...)")],
    agent_channel: Annotated[int | None, typer.Option("--agent-channel", help="channel of the agent on stereo files (default: asr.default_agent_channel)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON transcript per file, one per line")] = False,
    srt: Annotated[Path | None, typer.Option("--srt", help="also write <name>.srt subtitles (role-prefixed) into this folder")] = None,
) -> None:
    """Transcribe recordings ad hoc (nothing is stored); text is normalised and PII-redacted as in the pipeline.

    --json prints one object per file and line (JSON Lines), the shape of `voc.transcribe.transcript_to_json`.
    A file that cannot be decoded is reported on stderr and the others go on (exit code 3).
    """
    from voc.pipeline import transcribe_file
    from voc.pipeline.adhoc import AudioError, ModelError, get_engine, role_swap_warning, transcript_to_json

    s = settings()
    try:
        engine = get_engine(s.asr, s.models_dir)
    except (ModelError, FileNotFoundError, ValueError) as exc:
        raise fail(f"speech model: {exc}") from None
    failed = 0
    for k, path in enumerate(files, start=1):
        if not path.is_file():
            err.print(f"[red]error:[/red] {path}: no such file")
            failed += 1
            continue
        started = time.monotonic()
        try:  # a spinner with the elapsed time on a terminal; a line per file in logs
            with err.status(f"transcribing {path} ({k}/{len(files)})"):
                t, pii = transcribe_file(s, path, path.stem, agent_channel, engine=engine)
        except AudioError as exc:
            err.print(f"[red]error:[/red] {path}: {exc}")
            failed += 1
            continue
        err.print(f"{path}: {len(t.utterances)} utterances, {t.metrics.duration_s:.1f} s of audio in "
                  f"{time.monotonic() - started:.1f} s ({k}/{len(files)})", markup=False, highlight=False)
        swapped = role_swap_warning(t.utterances, t.options.get("agent_channel"))
        if swapped:
            err.print(f"[yellow]warning:[/yellow] {path}: {swapped}")
        if srt is not None:
            srt.mkdir(parents=True, exist_ok=True)
            (srt / f"{path.stem}.srt").write_text(to_srt(t.utterances), encoding="utf-8")
        if json_out:
            emit_json({"file": str(path), **transcript_to_json(t), "pii_redacted": pii})
            continue
        m = t.metrics
        out.print(f"[bold]{path}[/bold]  {m.duration_s:.1f} s, agent talk {m.agent_talk_s:.1f} s, customer talk "
                  f"{m.customer_talk_s:.1f} s, silence {m.silence_s:.1f} s, overtalk {m.overtalk_s:.1f} s")
        for u in t.utterances:
            out.print(f"  {u.start:7.2f}-{u.end:7.2f}  {u.role.value:<8} {u.text}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(3 if failed < len(files) else 2)


def to_srt(utterances) -> str:
    """SubRip subtitles, one cue per utterance, prefixed with the speaker's role."""

    def stamp(x: float) -> str:
        ms = int(round(max(x, 0.0) * 1000))
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    cues = [f"{k}\n{stamp(u.start)} --> {stamp(u.end)}\n[{u.role.value}] {u.text}\n"
            for k, u in enumerate(utterances, start=1)]
    return "\n".join(cues)


COMMANDS = (redact, segment, sentiment, route, transcribe)  # commands of the root app, registered in voc.cli in this order
