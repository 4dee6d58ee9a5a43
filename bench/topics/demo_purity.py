"""Topic purity on the demo database: theme mix per topic (demo/reference/complaint_themes.csv), where the planted
X3 leak (batch B2311, 11-18..20) went each night, and the emerging findings of 11-16..11-20 with their facets.

Build the database (the demo without audio; ~2 min of topics on 2 cores once embeddings are cached):
    cp demo/voc.yaml /tmp/d/voc.yaml   # then point database_url and exports_dir at /tmp/d
    voc -c /tmp/d/voc.yaml init && voc -c /tmp/d/voc.yaml ingest
    voc -c /tmp/d/voc.yaml run --from 2026-10-22 --date 2026-11-20 --stage text --stage sentiment --stage topics
Run:  .venv/bin/python bench/topics/demo_purity.py /tmp/d/demo.db
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from collections import Counter, defaultdict
from pathlib import Path

THEMES = Path(__file__).resolve().parents[2] / "demo" / "reference" / "complaint_themes.csv"


def main(db: str) -> None:
    theme = {r["id"]: r["theme"] for r in csv.DictReader(THEMES.open(encoding="utf-8"))}
    con = sqlite3.connect(db)
    ext = dict(con.execute("select id, coalesce(external_id, id) from interactions"))
    rows = con.execute("select interaction_id, topic_id, business_date from topic_assignments").fetchall()
    by_topic: dict[str, Counter] = defaultdict(Counter)
    for iid, tid, _day in rows:
        by_topic[tid][theme.get(ext[iid], ext[iid][:4])] += 1
    labels = dict(con.execute("select id, label from topics"))
    majority = total = 0
    for tid, c in sorted(by_topic.items(), key=lambda kv: -sum(kv[1].values())):
        n, top = sum(c.values()), c.most_common(1)[0][1]
        majority, total = majority + top, total + n
        print(f"{tid} {labels.get(tid)} {n} purity {top / n:.2f} {c.most_common(4)}")
    print(f"overall purity {majority / max(total, 1):.3f} over {total} assigned complaints")
    leak = Counter((day, tid) for iid, tid, day in rows if theme.get(ext[iid]) == "x3_leak")
    print("x3_leak by night and topic:", sorted(leak.items()))
    for day, kind, tid, title, count, ids, details in con.execute(
            "select run_date, kind, topic_id, title, count, interaction_ids, details from findings "
            "where run_date >= '2026-11-16' and kind in ('emerging_topic', 'emerging_terms') order by run_date"):
        mix = Counter(theme.get(ext.get(i, i), "?") for i in json.loads(ids)).most_common(3)
        facets = json.loads(details).get("facets", {})
        print(day, kind, tid, title, count, mix, facets.get("by_batch", ""), facets.get("by_region", ""))


if __name__ == "__main__":
    main(sys.argv[1])
