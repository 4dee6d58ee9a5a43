"""Evidence for the Celery scale-out proof (run by bench/scaleout/run.sh; reads the two PostgreSQL databases).

    check.py wait-dag  DAG_ID             wait until the DAG processor has serialized the DAG
    check.py wait-run  DAG_ID RUN_ID      wait until the DAG run is finished, printing progress
    check.py report    DAG_ID RUN_ID      print the evidence; exit 1 when a check fails

The metadata database (``--meta``, default ``$VOC_SCALEOUT_META_DSN``) gives the DAG run and its task
instances with the host that ran each; the voc store (``--store``, default ``$VOC_SCALEOUT_STORE_DSN``)
is checked for duplicate rows after two ingests (CLI, then the DAG's ingest task) and the mapped transcription.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

FINAL = {"success", "failed"}


def connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def wait_dag(meta: str, dag_id: str, timeout: float) -> int:
    """Wait for the serialized DAG; fail at once on an import error in the DAG folder."""
    deadline = time.monotonic() + timeout
    with connect(meta) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)).fetchone():
                print(f"{dag_id} is parsed and serialized")
                return 0
            errors = conn.execute("SELECT filename, stacktrace FROM import_error").fetchall()
            if errors:
                for filename, trace in errors:
                    print(f"import error in {filename}:\n{trace}", file=sys.stderr)
                return 1
            time.sleep(2)
    print(f"{dag_id} did not appear in the metadata database within {timeout:.0f} s "
          "(is the dag-processor running? see its log)", file=sys.stderr)
    return 1


def dead(watch: dict[str, int]) -> list[str]:
    out = []
    for name, pid in watch.items():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            out.append(name)
    return out


def wait_run(meta: str, dag_id: str, run_id: str, timeout: float, watch: dict[str, int]) -> int:
    """Poll the DAG run until it is final; print the task-state counts whenever they change.

    Gives up at once when one of the ``watch`` processes (name: pid) has exited.
    """
    t0 = time.monotonic()
    last = None
    with connect(meta) as conn:
        while time.monotonic() - t0 < timeout:
            row = conn.execute("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)).fetchone()
            states = conn.execute("SELECT coalesce(state, 'none'), count(*) FROM task_instance "
                                  "WHERE dag_id = %s AND run_id = %s GROUP BY 1 ORDER BY 1", (dag_id, run_id)).fetchall()
            line = f"run {row[0] if row else 'missing'}; tasks " + ", ".join(f"{s} {n}" for s, n in states)
            if line != last:
                print(f"[{time.monotonic() - t0:6.1f} s] {line}", flush=True)
                last = line
            if row and row[0] in FINAL:
                return 0
            if gone := dead(watch):
                print(f"{', '.join(gone)} exited while the DAG run was {row[0] if row else 'missing'}", file=sys.stderr)
                return 1
            time.sleep(3)
    print(f"DAG run {run_id} not finished after {timeout:.0f} s", file=sys.stderr)
    return 1


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}")
        if not ok:
            self.failed.append(what)


def table_exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is not None


def fmt_time(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%H:%M:%S") if value else "-"


def report(meta: str, store: str, dag_id: str, run_id: str, day: str, calls_csv: Path,
           workers: list[str], airflow_home: Path | None) -> int:
    check = Checks()
    with connect(meta) as conn:
        run = conn.execute("SELECT state, start_date, end_date, conf FROM dag_run WHERE dag_id = %s AND run_id = %s",
                           (dag_id, run_id)).fetchone()
        tis = conn.execute(
            "SELECT task_id, map_index, state, try_number, hostname, queue, pool, start_date, end_date, duration "
            "FROM task_instance WHERE dag_id = %s AND run_id = %s ORDER BY start_date NULLS LAST, task_id, map_index",
            (dag_id, run_id)).fetchall()
    if run is None:
        print(f"no DAG run {dag_id}/{run_id} in the metadata database", file=sys.stderr)
        return 1
    state, started, ended, conf = run
    wall = (ended - started).total_seconds() if started and ended else float("nan")
    print(f"\n== DAG run {dag_id} / {run_id} (conf {conf})")
    print(f"state {state}; started {fmt_time(started)} UTC, ended {fmt_time(ended)} UTC; {wall:.1f} s")

    print(f"\n== task instances ({len(tis)})")
    print(f"{'task':<14} {'map':>3} {'state':<8} {'try':>3}  {'hostname':<28} {'queue':<22} {'pool':<13} "
          f"{'start':>8} {'end':>8} {'secs':>6}")
    for task_id, map_index, ti_state, tries, host, queue, pool, t_start, t_end, secs in tis:
        print(f"{task_id:<14} {map_index:>3} {ti_state or '-':<8} {tries:>3}  {host or '-':<28} {queue or '-':<22} "
              f"{pool or '-':<13} {fmt_time(t_start):>8} {fmt_time(t_end):>8} {secs or 0:6.1f}")

    mapped = [t for t in tis if t[0] == "transcribe" and t[1] >= 0]
    per_host = Counter(t[4] or "-" for t in mapped)
    all_hosts = Counter(t[4] or "-" for t in tis if t[2] == "success")
    print("\n== mapped transcribe tasks per worker host")
    for host, n in sorted(per_host.items()):
        print(f"  {host:<30} {n}")
    print("== all successful task instances per worker host")
    for host, n in sorted(all_hosts.items()):
        print(f"  {host:<30} {n}")

    embeds = [t for t in tis if t[0] == "embed" and t[1] >= 0]
    if embeds:
        starts = [t[7] for t in embeds if t[7]]
        ends = [t[8] for t in embeds if t[8]]
        span = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
        print(f"\n== mapped embed tasks: {len(embeds)}; first start -> last end {span:.1f} s; "
              f"task durations summed {sum(t[9] or 0 for t in embeds):.1f} s")
        for host, n in sorted(Counter(t[4] or "-" for t in embeds).items()):
            print(f"  {host:<30} {n}")

    if airflow_home:
        print_model_loads(airflow_home, dag_id, run_id, mapped)

    print("\n== checks")
    check(state == "success", f"DAG run state is success (got {state})")
    # mark_failed runs only when a stage task failed for good, so on a good run it is skipped
    expected = {t[0]: ("skipped" if t[0] == "mark_failed" else "success") for t in tis}
    not_ok = [f"{t[0]}[{t[1]}]={t[2]}" for t in tis if t[2] != expected[t[0]]]
    check(not not_ok, "every task instance succeeded (mark_failed skipped)"
          + (f"; not: {', '.join(not_ok)}" if not_ok else ""))
    check(len(mapped) >= len(workers), f"{len(mapped)} mapped transcribe task(s), at least one per worker")
    for worker in workers:
        n = sum(count for host, count in per_host.items() if host.split("@")[0] == worker)
        check(n > 0, f"worker {worker} ran {n} mapped transcribe task(s)")
    check(all(t[6] == "voc_asr" for t in mapped), "mapped transcribe tasks ran in pool voc_asr")

    day_calls = read_day_calls(calls_csv, day)
    with connect(store) as conn:
        store_checks(conn, check, day, day_calls, mapped)

    if check.failed and airflow_home:
        print_failed_logs(airflow_home, dag_id, run_id, tis)
    print(f"\n{len(check.failed)} check(s) failed" if check.failed else "\nall checks passed")
    return 1 if check.failed else 0


def read_day_calls(calls_csv: Path, day: str) -> list[str]:
    with calls_csv.open(encoding="utf-8", newline="") as fh:
        return [r["call_id"] for r in csv.DictReader(fh) if (r.get("start_time") or "").startswith(day)]


# (table, key columns): at most one row per key after two ingests and a distributed run.
UNIQUE_KEYS: list[tuple[str, tuple[str, ...]]] = [
    ("interactions", ("channel", "external_id")),
    ("interactions", ("channel", "content_hash")),
    ("utterances", ("interaction_id", "idx")),
    ("transcripts", ("interaction_id",)),
    ("call_metrics", ("interaction_id",)),
    ("item_status", ("interaction_id", "stage")),
    ("sentiment", ("interaction_id", "idx")),
    ("call_sentiment", ("interaction_id",)),
    ("qa_results", ("interaction_id",)),
    ("qa_reviews", ("interaction_id",)),
    ("topic_assignments", ("interaction_id",)),
    ("findings", ("id",)),
    ("routes", ("finding_id",)),
    ("deliveries", ("run_date", "department", "target", "kind")),
]


def store_checks(conn: psycopg.Connection, check: Checks, day: str, day_calls: list[str],
                 mapped: list[tuple[Any, ...]]) -> None:
    print(f"\n== voc store: no duplicates ({len(day_calls)} calls on {day} in calls.csv)")
    for table, key in UNIQUE_KEYS:
        if not table_exists(conn, table):
            print(f"  [skip] {table}: not in this store")
            continue
        cols = ", ".join(key)
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        dups = conn.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {table} WHERE {key[0]} IS NOT NULL "
                            f"GROUP BY {cols} HAVING count(*) > 1) d").fetchone()[0]
        check(dups == 0, f"{table}: {rows} rows, {dups} duplicate ({cols})")

    found = dict(conn.execute("SELECT external_id, count(*) FROM interactions WHERE channel = 'call' "
                              "AND external_id = ANY(%s) GROUP BY external_id", (day_calls,)).fetchall())
    check(sorted(found) == sorted(day_calls) and set(found.values()) == {1},
          f"each of the {len(day_calls)} calls of {day} is one interaction ({len(found)} found)")
    gaps = conn.execute("SELECT count(*) FROM (SELECT interaction_id FROM utterances GROUP BY interaction_id "
                        "HAVING min(idx) <> 0 OR max(idx) + 1 <> count(*)) g").fetchone()[0]
    check(gaps == 0, f"utterance indexes are 0..n-1 per interaction ({gaps} interaction(s) with gaps)")
    done = conn.execute("SELECT count(*) FROM item_status s JOIN interactions i ON i.id = s.interaction_id "
                        "WHERE s.stage = 'transcribe' AND s.status = 'done' AND i.channel = 'call' "
                        "AND i.business_date = %s", (day,)).fetchone()[0]
    check(done == len(day_calls), f"item_status transcribe done once per call of {day}: {done}")
    transcripts = conn.execute("SELECT count(*) FROM transcripts t JOIN interactions i ON i.id = t.interaction_id "
                               "WHERE i.business_date = %s", (day,)).fetchone()[0]
    check(transcripts == len(day_calls), f"one transcript per call of {day}: {transcripts}")

    runs = conn.execute("SELECT id, status FROM runs WHERE run_date = %s AND \"trigger\" = 'airflow'", (day,)).fetchall()
    check(len(runs) == 1 and runs[0][1] == "done", f"one voc run recorded for {day} by Airflow, done: {runs}")
    if runs:
        stages = conn.execute("SELECT stage, status, count(*), sum(processed) FROM stage_runs WHERE run_id = %s "
                              "GROUP BY stage, status ORDER BY min(id)", (runs[0][0],)).fetchall()
        print("  stage_runs of that run: " + "; ".join(f"{s} {st} x{n} ({p} processed)" for s, st, n, p in stages))
        batches_done = sum(n for s, st, n, _ in stages if s.startswith("transcribe[") and st == "done")
        ok_mapped = sum(1 for t in mapped if t[2] == "success")
        check(batches_done == ok_mapped,
              f"each successful mapped transcribe task recorded one done batch ({batches_done} vs {ok_mapped})")


def print_model_loads(home: Path, dag_id: str, run_id: str, mapped: list[tuple[Any, ...]]) -> None:
    """Which mapped transcribe tasks loaded the ASR model (each task instance runs in its own process)."""
    base = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / "task_id=transcribe"
    loads = []
    for _, map_index, _, tries, host, *_ in mapped:
        log = base / f"map_index={map_index}" / f"attempt={tries}.log"
        text = log.read_text(errors="replace") if log.is_file() else ""
        if "loaded Whisper" in text:
            line = text[text.index("loaded Whisper"):].split('"', 1)[0]
            loads.append(f"transcribe[{map_index}] ({host}): {line.split(' on ', 1)[-1]}")
    print(f"== ASR model loads: {len(loads)} of {len(mapped)} mapped transcribe task logs "
          "(batches of transcribed-elsewhere calls load none)")
    for entry in loads:
        print(f"  {entry}")


def print_failed_logs(home: Path, dag_id: str, run_id: str, tis: list[tuple[Any, ...]]) -> None:
    base = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    for task_id, map_index, ti_state, *_ in tis:
        if ti_state == "success":
            continue
        folder = base / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        for log in sorted(folder.glob("attempt=*.log")):
            print(f"\n--- {log} (last 30 lines)", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["wait-dag", "wait-run", "report"])
    p.add_argument("dag_id")
    p.add_argument("run_id", nargs="?")
    p.add_argument("--meta", default=os.environ.get("VOC_SCALEOUT_META_DSN"), help="Airflow metadata DB (libpq URL)")
    p.add_argument("--store", default=os.environ.get("VOC_SCALEOUT_STORE_DSN"), help="voc store DB (libpq URL)")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--date", help="business date of the run (YYYY-MM-DD)")
    p.add_argument("--calls-csv", type=Path, help="the inbox's calls.csv (calls expected for --date)")
    p.add_argument("--workers", default="w1,w2", help="Celery worker names that must each run a mapped task")
    p.add_argument("--watch", default="", help="NAME=PID,...: processes that must stay up while waiting")
    p.add_argument("--airflow-home", type=Path, default=os.environ.get("AIRFLOW_HOME"))
    a = p.parse_args(argv)
    if not a.meta:
        p.error("--meta (or VOC_SCALEOUT_META_DSN) is required")
    if a.command == "wait-dag":
        return wait_dag(a.meta, a.dag_id, a.timeout)
    if not a.run_id:
        p.error(f"{a.command} needs RUN_ID")
    if a.command == "wait-run":
        watch = {name: int(pid) for name, _, pid in (w.partition("=") for w in a.watch.split(",") if w)}
        return wait_run(a.meta, a.dag_id, a.run_id, a.timeout, watch)
    if not (a.store and a.date and a.calls_csv):
        p.error("report needs --store (or VOC_SCALEOUT_STORE_DSN), --date and --calls-csv")
    return report(a.meta, a.store, a.dag_id, a.run_id, a.date, a.calls_csv,
                  [w for w in a.workers.split(",") if w], a.airflow_home)


if __name__ == "__main__":
    sys.exit(main())
