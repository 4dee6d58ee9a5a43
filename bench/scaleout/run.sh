#!/usr/bin/env bash
# make scaleout: the voc_nightly DAG on Airflow's CeleryExecutor with two Celery workers, a Redis broker and
# PostgreSQL (fresh databases for Airflow's metadata and for the voc store), all on this machine. check.py then
# prints the evidence: DAG run state, every task instance with its host, mapped transcribe tasks per worker,
# and no duplicate rows in the store. Everything started here is stopped, and the databases, broker keys and
# temp folder are removed, on success and on failure (VOC_SCALEOUT_KEEP=1 keeps them for debugging).
#
# Settings (environment): VOC_SCALEOUT_PG (server URL, default postgresql://postgres@127.0.0.1:5432),
# VOC_SCALEOUT_META_DB / VOC_SCALEOUT_STORE_DB (dropped and recreated!), VOC_SCALEOUT_BROKER
# (default redis://127.0.0.1:6379/11), VOC_SCALEOUT_DATE (business date, default 2026-11-20: 9 calls),
# VOC_SCALEOUT_BATCH_CALLS (calls per mapped task, default 1), VOC_SCALEOUT_TIMEOUT (DAG run, default 900 s),
# VOC_SCALEOUT_WORKERS (how many Celery workers, default 2), VOC_SCALEOUT_INBOX (default demo/inbox; embed_inbox.py
# builds one for timing the mapped embed tasks), VOC_SCALEOUT_EMBED_BATCH (items per mapped embed task, default 500).
set -euo pipefail

T0=$(date +%s)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${VENV:-$REPO/.venv}/bin
PY=$BIN/python
PG=${VOC_SCALEOUT_PG:-postgresql://postgres@127.0.0.1:5432}
META_DB=${VOC_SCALEOUT_META_DB:-voc_airflow_meta}
STORE_DB=${VOC_SCALEOUT_STORE_DB:-voc_scaleout}
BROKER=${VOC_SCALEOUT_BROKER:-redis://127.0.0.1:6379/11}
DAY=${VOC_SCALEOUT_DATE:-2026-11-20}
RUN_TIMEOUT=${VOC_SCALEOUT_TIMEOUT:-900}
KEEP=${VOC_SCALEOUT_KEEP:-0}
INBOX=${VOC_SCALEOUT_INBOX:-$REPO/demo/inbox}
NWORKERS=${VOC_SCALEOUT_WORKERS:-2}
WORKERS=$(seq -s ' ' -f 'w%g' 1 "$NWORKERS")
DAG=voc_nightly
RUN_ID="scaleout__${DAY}__$(date -u +%Y%m%dT%H%M%S)"
QUEUE="voc_scaleout_$$"   # a queue of our own, so that nothing else on the broker takes our tasks
SA_PG=${PG/postgresql:\/\//postgresql+psycopg:\/\/}

log() { printf '[scaleout %4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() { echo "scaleout: $*" >&2; exit 1; }

[[ -x $PY ]] || die "no virtual environment at ${BIN%/bin} (run: make setup setup-airflow)"
[[ -f $REPO/voc-data/models/whisper-base/model.bin ]] || die "Whisper base is not assembled at voc-data/models/whisper-base (run: make model)"
celery_extra_ok() {  # the airflow-celery extra is installed, with a celery its provider can import
    "$PY" -c 'import importlib.metadata as m, sys; from packaging.version import Version as V
try:
    sys.exit(not (m.version("apache-airflow-providers-celery") and m.version("redis") and m.version("psycopg")
                  and V(m.version("celery")) < V("5.7")))
except m.PackageNotFoundError:
    sys.exit(1)'
}
if ! celery_extra_ok; then
    log "installing the airflow-celery extra"
    "$BIN/pip" install -q -e "$REPO[airflow-celery]"
fi

# one run at a time: a second one would drop the first one's databases
exec 9>"${TMPDIR:-/tmp}/voc-scaleout.lock"
flock -n 9 || die "another bench/scaleout/run.sh is running (lock ${TMPDIR:-/tmp}/voc-scaleout.lock)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/voc-scaleout.XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/airflow" "$WORK/exports"
PIDS=()
NAMES=()

pg_admin() {  # run SQL statements on the server's maintenance database
    "$PY" - "$PG/postgres" "$@" <<'EOF'
import sys, psycopg
try:
    with psycopg.connect(sys.argv[1], autocommit=True) as conn:
        for sql in sys.argv[2:]:
            conn.execute(sql)
except psycopg.Error as exc:
    sys.exit(f"scaleout: PostgreSQL {sys.argv[1]}: {str(exc).splitlines()[0]}")
EOF
}

broker_keys() {  # count | cleanup: the broker database's keys (cleanup removes ours, or all if it was empty)
    "$PY" - "$BROKER" "$QUEUE" "$1" "${BROKER_EMPTY:-0}" <<'EOF'
import sys, redis
try:
    r = redis.Redis.from_url(sys.argv[1])
    if sys.argv[3] == "count":
        print(r.dbsize())
    elif sys.argv[4] == "1":
        r.flushdb()
    else:
        mine = list(r.scan_iter(f"*{sys.argv[2]}*"))
        if mine:
            r.delete(*mine)
except redis.RedisError as exc:
    sys.exit(f"scaleout: broker {sys.argv[1]}: {exc}")
EOF
}

cleanup() {
    local rc=$? i pid
    set +e
    trap - EXIT INT TERM
    for i in "${!PIDS[@]}"; do kill -TERM -- "-${PIDS[$i]}" 2>/dev/null; done
    for i in "${!PIDS[@]}"; do
        pid=${PIDS[$i]}
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ $rc -ne 0 ]]; then
        for i in "${!NAMES[@]}"; do
            echo "--- ${NAMES[$i]} (last 25 lines of $LOGS/${NAMES[$i]}.log)" >&2
            tail -n 25 "$LOGS/${NAMES[$i]}.log" >&2 2>/dev/null
        done
    fi
    if [[ $KEEP == 1 ]]; then
        log "kept (VOC_SCALEOUT_KEEP=1): $WORK, databases $META_DB and $STORE_DB, broker $BROKER queue $QUEUE"
    else
        local dropped="dropped $META_DB and $STORE_DB"
        pg_admin "DROP DATABASE IF EXISTS $META_DB WITH (FORCE)" "DROP DATABASE IF EXISTS $STORE_DB WITH (FORCE)" \
            || dropped="could NOT drop $META_DB / $STORE_DB"
        [[ -n ${BROKER_EMPTY:-} ]] && { broker_keys cleanup || echo "scaleout: broker keys of $QUEUE left" >&2; }
        rm -rf "$WORK"
        log "stopped ${#PIDS[@]} processes; $dropped; removed $WORK"
    fi
    log "wall time $(($(date +%s) - T0)) s (exit $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # start NAME CMD...: in its own session, so that cleanup can stop it with all its children
    local name=$1
    shift
    setsid "$@" >"$LOGS/$name.log" 2>&1 < /dev/null 9>&- &
    PIDS+=("$!")
    NAMES+=("$name")
}

check_alive() {  # fail at once when a component we started has exited
    local i
    for i in "${!PIDS[@]}"; do
        kill -0 "${PIDS[$i]}" 2>/dev/null || die "${NAMES[$i]} exited (see $LOGS/${NAMES[$i]}.log)"
    done
}

wait_for_log() {  # wait_for_log NAME PATTERN TIMEOUT
    local deadline=$((SECONDS + $3))
    until grep -q "$2" "$LOGS/$1.log" 2>/dev/null; do
        check_alive
        ((SECONDS < deadline)) || die "$1 did not log '$2' within $3 s"
        sleep 1
    done
}

wait_for_http() {  # wait_for_http URL TIMEOUT: until the URL answers 200
    "$PY" - "$1" "$2" <<'EOF2' || die "no answer from $1 within $2 s (see $LOGS/api-server.log)"
import sys, time, urllib.request
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(1)
sys.exit(1)
EOF2
}

# ---- databases, broker, configuration -----------------------------------------------------------
log "fresh PostgreSQL databases $META_DB (Airflow metadata) and $STORE_DB (voc store) on ${PG#*@}"
pg_admin "DROP DATABASE IF EXISTS $META_DB WITH (FORCE)" "DROP DATABASE IF EXISTS $STORE_DB WITH (FORCE)" \
    "CREATE DATABASE $META_DB" "CREATE DATABASE $STORE_DB"
KEYS_BEFORE=$(broker_keys count) || die "cannot reach the broker $BROKER (set VOC_SCALEOUT_BROKER)"
BROKER_EMPTY=0
[[ $KEYS_BEFORE == 0 ]] && BROKER_EMPTY=1
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))'; }

export AIRFLOW_HOME=$WORK/airflow
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__FERNET_KEY=$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$SA_PG/$META_DB
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=$SA_PG/$META_DB  # psycopg 3 is async too (no asyncpg needed)
export AIRFLOW__CELERY__BROKER_URL=$BROKER
export AIRFLOW__CELERY__RESULT_BACKEND=db+$SA_PG/$META_DB
export AIRFLOW__CELERY__WORKER_CONCURRENCY=1
export AIRFLOW__OPERATORS__DEFAULT_QUEUE=$QUEUE
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=$PORT
export AIRFLOW__API__BASE_URL=http://127.0.0.1:$PORT
export AIRFLOW__API__WORKERS=1
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$PORT/execution/
export AIRFLOW__API_AUTH__JWT_SECRET=$(secret)
export AIRFLOW__API__SECRET_KEY=$(secret)
# The DAG's [voc] knobs: no catchup runs (the run below names its date), quick retries.
export AIRFLOW__VOC__NIGHTLY_START_DATE=2100-01-01
export AIRFLOW__VOC__TASK_RETRIES=1
export AIRFLOW__VOC__RETRY_DELAY_SECONDS=5
# voc's own settings, read by the tasks on the workers.
export VOC_CONFIG=$REPO/demo/voc.yaml
export VOC_DATABASE_URL=$SA_PG/$STORE_DB
export VOC_INBOX=$INBOX
export VOC_EXPORTS_DIR=$WORK/exports
export VOC_MODELS_DIR=$REPO/voc-data/models
export VOC_ASR__BATCH_CALLS=${VOC_SCALEOUT_BATCH_CALLS:-1}
[[ -n ${VOC_SCALEOUT_EMBED_BATCH:-} ]] && export AIRFLOW__VOC__EMBED_BATCH_ITEMS=$VOC_SCALEOUT_EMBED_BATCH
export VOC_SCALEOUT_META_DSN=$PG/$META_DB
export VOC_SCALEOUT_STORE_DSN=$PG/$STORE_DB
cd "$WORK"

log "airflow db migrate"
"$BIN/airflow" db migrate >"$LOGS/migrate.log" 2>&1 || { tail -n 30 "$LOGS/migrate.log" >&2; die "airflow db migrate failed"; }
"$BIN/airflow" pools set voc_asr 2 "ASR model slots: one per worker" >/dev/null

# ---- Airflow components and two Celery workers ---------------------------------------------------
log "starting api-server (:$PORT), scheduler, dag-processor, Celery workers $WORKERS (queue $QUEUE)"
start api-server "$BIN/airflow" api-server --port "$PORT" --host 127.0.0.1 --workers 1
start scheduler "$BIN/airflow" scheduler
start dag-processor "$BIN/airflow" dag-processor
for w in $WORKERS; do
    start "$w" env VOC_SCALEOUT_WORKER="$w" PYTHONPATH="$REPO/bench/scaleout${PYTHONPATH:+:$PYTHONPATH}" \
        AIRFLOW__CORE__HOSTNAME_CALLABLE=worker_host.hostname \
        "$BIN/airflow" celery worker --celery-hostname "$w@%h" --queues "$QUEUE" --concurrency 1 --skip-serve-logs
done

log "voc init + ingest $INBOX into $STORE_DB"
"$BIN/voc" --config "$VOC_CONFIG" init
"$BIN/voc" --config "$VOC_CONFIG" ingest "$INBOX"

check_alive
"$PY" "$REPO/bench/scaleout/check.py" wait-dag "$DAG" --timeout 180
wait_for_http "http://127.0.0.1:$PORT/api/v2/monitor/health" 180
for w in $WORKERS; do wait_for_log "$w" "ready" 180; done
T_READY=$(date +%s)
log "cluster ready after $((T_READY - T0)) s; unpausing $DAG and triggering run $RUN_ID for business date $DAY"
"$BIN/airflow" dags unpause "$DAG" >/dev/null
"$BIN/airflow" dags trigger "$DAG" --run-id "$RUN_ID" --conf "{\"date\": \"$DAY\"}" >/dev/null

WATCH=$(for i in "${!PIDS[@]}"; do printf '%s=%s,' "${NAMES[$i]}" "${PIDS[$i]}"; done)
"$PY" "$REPO/bench/scaleout/check.py" wait-run "$DAG" "$RUN_ID" --timeout "$RUN_TIMEOUT" --watch "$WATCH"
log "DAG run finished after $(($(date +%s) - T_READY)) s"
"$PY" "$REPO/bench/scaleout/check.py" report "$DAG" "$RUN_ID" --date "$DAY" \
    --calls-csv "$INBOX/calls.csv" --workers "${WORKERS// /,}"
