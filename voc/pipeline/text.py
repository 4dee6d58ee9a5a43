"""Text boundary: normalise, redact and segment the date's utterances and text-channel bodies."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, per_item_batched, select_items, stage, timed
from voc.records import Interaction, StageResult
from voc.store import Store


@stage("text")
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Normalise, redact and segment utterances and text-channel bodies (idempotent)."""
    from voc.text import get_tokenizer, process_text

    t0 = time.perf_counter()
    items = select_items(store, "text", run_date, batch)
    get_tokenizer(settings.text)  # dictionaries load once, before the loop
    calls = [i.id for i in items if i.channel.value == "call"]
    utts = store.utterances_for(calls)
    pii_total: dict[str, int] = {}

    def work(item: Interaction) -> tuple[str, list[str]] | dict[tuple[str, int], list[str]]:
        if item.channel.value == "call":
            return {(item.id, u.idx): list(process_text(u.text, settings.text).tokens) for u in utts.get(item.id, [])}
        p = process_text(item.text or "", settings.text)
        for k, v in p.pii_counts.items():
            pii_total[k] = pii_total.get(k, 0) + v
        return p.text, list(p.tokens)

    def write(results: list[tuple[Interaction, Any]], failed: list[tuple[str, str]]) -> None:
        texts = [(item.id, *out) for item, out in results if not isinstance(out, dict)]
        tokens = {key: toks for _item, out in results if isinstance(out, dict) for key, toks in out.items()}
        store.write_texts("text", texts, tokens, [item.id for item, _ in results], failed)

    done, failed, errors = per_item_batched(store, "text", items, work, write, progress)
    return timed("text", run_date, t0, processed=done, failed=failed, errors=tuple(errors),
                 details={"pii_removed_late": pii_total})
