"""A small topics history for the topics CLI and ``voc watch`` tests: complaint chats in an inbox, run nightly.

Four themes (the short complaint texts of tests/unit/test_topics.py) over ``days`` nights ending yesterday, through
the real ingest, text, sentiment, topics and routing stages.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.unit.test_topics import THEMES

STAGES = ["ingest", "text", "sentiment", "topics", "routing"]


def chat_rows(day: dt.date, per_theme: dict[str, int], prefix: str, offset: int = 0) -> list[dict]:
    """``per_theme[theme]`` chats of each theme on ``day`` (texts taken cyclically from the theme's list)."""
    rows = []
    for theme, n in per_theme.items():
        texts = THEMES[theme]
        for k in range(n):
            rows.append({"id": f"{prefix}-{day}-{theme}-{k}", "text": texts[(offset + k) % len(texts)],
                         "created_at": f"{day}T{9 + k % 8:02d}:{(7 * k) % 60:02d}:00",
                         "customer_id": f"c{(offset + k) % 11}", "channel": "chat"})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def seed_history(store, settings, days: int = 6) -> list[dt.date]:
    """Write ``days`` nights of chats ending yesterday (settings.timezone) and run the nightly stages on each."""
    from voc import pipeline

    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    dates = [today - dt.timedelta(days=days - k) for k in range(days)]
    rows = []
    for n, day in enumerate(dates):
        per = 8 if n == 0 else 4  # the first night is big enough to cluster
        rows += chat_rows(day, dict.fromkeys(THEMES, per), "h", offset=4 * n)
    write_jsonl(Path(settings.inbox) / "text" / "chat-history.jsonl", rows)
    for day in dates:
        summary = pipeline.run(store, settings, day, STAGES)
        assert summary.status == "done", summary.to_dict()
    return dates
