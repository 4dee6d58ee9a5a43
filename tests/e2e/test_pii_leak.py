"""Nothing downstream may see raw personal data (issue 5).

PII is planted in a copy of the demo inbox - a text-channel record (body and extra fields), a call
transcript's customer utterance and an extra ``phone`` column of calls.csv - and the whole pipeline
runs for the dates involved (transcripts instead of audio, to stay fast). Then the SQLite database
file and its WAL, every file under the export folder and the captured log output are scanned
byte-wise for each raw value, also in its normalised form (digits without separators) and as a
JSON ``\\uXXXX`` escape (how SQLAlchemy stores JSON columns): zero hits. The typed placeholders
must stand where the values were.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import logging
import re
from pathlib import Path

import pytest

from voc import pipeline
from voc.config import load_settings
from voc.store import Store
from voc.text.redact import id_checksum_ok, luhn_ok

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "inbox"
DATES = (dt.date(2026, 11, 19), dt.date(2026, 11, 20))
STAGES = ["ingest", "transcribe", "text", "sentiment", "qa", "topics", "routing", "report"]
PLANTED_TEXT_ID = "TPII01"
PLANTED_CALL = "C011"  # a transcript call of 2026-11-20
PLANTED_DATE = "2026-11-20T10:30:00+08:00"


def _id_number(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def _luhn(prefix: str) -> str:
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError("unreachable")


ID_NUMBER = _id_number("33010619850317241")
CARD = _luhn("622848001234567890")  # 19 digits, UnionPay-like
# Each value in the form it is planted in; the scan also looks for the separator-free digits.
TEXT_PII = {
    "PHONE": ["139 0571 2468", "186-2233-4455", "幺五零 六六七七 八八九九"],
    "ID": [ID_NUMBER],
    "CARD": [CARD],
    "EMAIL": ["zhang.weiming88@example.com"],
    "ADDR": ["杭州市西湖区文三路478号华星大厦12楼1203室"],
    "NAME": ["欧阳明远"],
}
CALL_PII = {"PHONE": ["幺三七 八八六六 五五四四"], "ADDR": ["南京市鼓楼区中山北路88号3栋502室"], "NAME": ["司马婉清"]}
# Appended to every 漏水 complaint of the dates run: the demo's X3 theme becomes a topic finding whose
# examples are exported, so the export scan sees planted texts (redacted) and not only numbers.
THEME_PII = {"PHONE": ["137-0000-2468"], "NAME": ["上官清扬"]}
ATTRIBUTE_PII = {  # extra fields the inbox carries along: a contact column, and PII inside a harmless one
    "calls.csv phone": "13566778800",
    "text contact_phone": "15912345670",
    "text customer_name": "诸葛云帆",
    "text note": "备用邮箱 li.backup77@example.org",
    # a malformed row (a phone number in a numeric column) is quarantined: its reason must not echo it
    "quarantine reason": "139-1234-0000",
}
SPOKEN = str.maketrans("零幺一二三四五六七八九", "01123456789")


def _text_body() -> str:
    p = TEXT_PII
    return (
        f"你好，我叫{p['NAME'][0]}，订单号HC202611200777的洗衣机坏了，花了2999元。"
        f"手机 {p['PHONE'][0]}，备用电话{p['PHONE'][1]}，家里座机说不清就打{p['PHONE'][2]}。"
        f"身份证号{p['ID'][0]}，退款打到银行卡{p['CARD'][0]}，邮箱{p['EMAIL'][0]}。"
        f"地址是{p['ADDR'][0]}，尽快上门。"
    )


def _call_utterance() -> str:
    p = CALL_PII
    return f"我叫{p['NAME'][0]}，你们回电到{p['PHONE'][0]}，地址是{p['ADDR'][0]}，空调还在漏水。"


def _needles(value: str) -> set[bytes]:
    """Byte strings whose presence anywhere means ``value`` leaked."""
    forms = {value, value.translate(SPOKEN)}
    digits = re.sub(r"[\s\-]", "", value.translate(SPOKEN))
    if digits.isdigit() or digits[:-1].isdigit():
        forms.add(digits)
    out: set[bytes] = set()
    for f in forms:
        out.add(f.encode("utf-8"))
        out.add(json.dumps(f)[1:-1].encode("ascii"))  # JSON column (ensure_ascii escapes)
        out.add(html.escape(f).encode("utf-8"))
    return out


def _all_values() -> dict[str, str]:
    values = {f"text {t} {v}": v for t, vs in TEXT_PII.items() for v in vs}
    values |= {f"call {t} {v}": v for t, vs in CALL_PII.items() for v in vs}
    values |= {f"theme {t} {v}": v for t, vs in THEME_PII.items() for v in vs}
    values |= {f"attribute {k}": v.split()[-1] for k, v in ATTRIBUTE_PII.items()}
    return values


def _hits(data: bytes, values: dict[str, str]) -> list[str]:
    return [label for label, v in values.items() if any(n in data for n in _needles(v))]


def _make_inbox(inbox: Path) -> None:
    (inbox / "transcripts").mkdir(parents=True)
    (inbox / "text").mkdir()
    with (DEMO / "calls.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["file"].endswith(".json")]  # no audio: the test stays fast
        fields = [*reader.fieldnames, "phone"]
    assert any(r["call_id"] == PLANTED_CALL for r in rows)
    with (inbox / "calls.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fields)
        w.writeheader()
        for r in rows:
            w.writerow({**r, "phone": ATTRIBUTE_PII["calls.csv phone"] if r["call_id"] == PLANTED_CALL else ""})
            src = DEMO / r["file"]
            data = json.loads(src.read_text(encoding="utf-8"))
            if r["call_id"] == PLANTED_CALL:
                customer = next(u for u in data["utterances"] if u["role"] == "customer")
                customer["text"] = _call_utterance()
            (inbox / r["file"]).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    # text channels: the rows of the dates run, plus the planted record
    keep = tuple(d.isoformat() for d in DATES)
    lines = []
    for ln in (DEMO / "text" / "complaints.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(ln)
        if rec["created_at"].startswith(keep):
            if "漏水" in rec["text"]:
                rec["text"] += f"我叫{THEME_PII['NAME'][0]}，联系电话{THEME_PII['PHONE'][0]}。"
            lines.append(json.dumps(rec, ensure_ascii=False))
    planted = {"id": PLANTED_TEXT_ID, "channel": "ticket", "created_at": PLANTED_DATE, "customer_id": "U9001",
               "customer_tier": "vip", "customer_value": 52000.0, "text": _text_body(), "product": "W7滚筒洗衣机",
               "region": "杭州", "contact_phone": ATTRIBUTE_PII["text contact_phone"],
               "customer_name": ATTRIBUTE_PII["text customer_name"], "note": ATTRIBUTE_PII["text note"]}
    lines.append(json.dumps(planted, ensure_ascii=False))
    lines.append(json.dumps({"id": "TPII02", "created_at": PLANTED_DATE, "text": "空调不制冷",
                             "customer_value": ATTRIBUTE_PII["quarantine reason"]}, ensure_ascii=False))
    (inbox / "text" / "complaints.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (DEMO / "text" / "reviews.csv").open(encoding="utf-8", newline="") as src, \
            (inbox / "text" / "reviews.csv").open("w", encoding="utf-8", newline="") as dst:
        reader = csv.DictReader(src)
        w = csv.DictWriter(dst, reader.fieldnames)
        w.writeheader()
        w.writerows(r for r in reader if r["created_at"].startswith(keep))


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pii")
    _make_inbox(tmp / "inbox")
    settings = load_settings(environ={
        "VOC_DATABASE_URL": f"sqlite:///{tmp / 'voc.db'}", "VOC_INBOX": str(tmp / "inbox"),
        "VOC_EXPORTS_DIR": str(tmp / "exports"),
        # TF-IDF instead of e5 keeps the run ~2x faster; the embedder stores vectors only, never text
        "VOC_TOPICS__EMBEDDER": "tfidf",
    })
    # every log record of the run, at every level, as the formatted text a log file would hold
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    store = Store.open(settings.db_url)
    try:
        summaries = [pipeline.run(store, settings, day, STAGES) for day in DATES]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    yield settings, store, tmp, summaries, "\n".join(records)
    store.close()


def test_planted_values_are_valid_pii():
    assert id_checksum_ok(ID_NUMBER) and luhn_ok(CARD) and len(CARD) == 19
    assert all(re.fullmatch(r"1[3-9]\d{9}", re.sub(r"[\s\-]", "", v.translate(SPOKEN))) for v in TEXT_PII["PHONE"])


def test_pipeline_ran_every_stage(leak_run):
    _settings, store, _tmp, summaries, _log = leak_run
    for s in summaries:
        assert s.status == "done", s.to_dict()
        assert [st["stage"] for st in s.stages] == STAGES
        assert all(not st.get("failed") for st in s.stages if st["stage"] != "ingest"), s.to_dict()
    planted = [i for i in store.interactions(run_date=DATES[1]) if i.external_id == PLANTED_TEXT_ID]
    assert len(planted) == 1 and store.interactions(run_date=DATES[1], pending_stage="text") == []
    ingest = summaries[0].stages[0]
    assert any("customer_value '[PHONE]' is not a number" in e["reason"] for e in ingest["errors"]), ingest


def test_no_raw_pii_in_database_file(leak_run):
    settings, store, tmp, _s, _log = leak_run
    store.close()  # let SQLite checkpoint; the WAL (if any is left) is scanned too
    files = [p for p in tmp.glob("voc.db*") if p.is_file()]
    assert (tmp / "voc.db") in files
    leaks = {p.name: h for p in files if (h := _hits(p.read_bytes(), _all_values()))}
    assert leaks == {}, f"raw PII in the database files: {leaks}"


def test_no_raw_pii_in_exports(leak_run):
    settings, _store, _tmp, _s, _log = leak_run
    files = [p for p in Path(settings.exports_dir).rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".csv" for p in files)
    leaks = {str(p): h for p in files if (h := _hits(p.read_bytes(), _all_values()))}
    assert leaks == {}, f"raw PII in exports: {leaks}"
    # the planted theme reached the exports, redacted (else this scan would prove little)
    exported = "\n".join(p.read_text(encoding="utf-8-sig") for p in files)
    assert "我叫[NAME]，联系电话[PHONE]" in exported


def test_no_raw_pii_in_logs(leak_run):
    *_rest, log_text = leak_run
    assert log_text  # the run logged something
    assert _hits(log_text.encode("utf-8"), _all_values()) == []


def test_placeholders_stand_where_the_values_were(leak_run):
    settings, _store, _tmp, _s, _log = leak_run
    store = Store.open(settings.db_url)  # the module's store was closed by the file scan
    try:
        (item,) = [i for i in store.interactions(run_date=DATES[1]) if i.external_id == PLANTED_TEXT_ID]
        text = item.text or ""
        for kind, values in TEXT_PII.items():
            assert text.count(f"[{kind}]") == len(values), (kind, text)
        # what routing needs stays: the order number and the price
        assert "HC202611200777" in text and "2999元" in text
        assert text.startswith("你好，我叫[NAME]，") and "地址是[ADDR]" in text
        # the contact field is dropped, PII inside a harmless field is replaced, the rest stays
        assert "contact_phone" not in item.attributes and "customer_name" not in item.attributes
        assert item.attributes["note"] == "备用邮箱 [EMAIL]" and item.attributes["product"] == "W7滚筒洗衣机"

        (call,) = [i for i in store.interactions(run_date=DATES[1]) if i.external_id == PLANTED_CALL]
        assert "phone" not in call.attributes and call.attributes.get("product") == "X3空调"
        said = [u.text for u in store.utterances_for([call.id])[call.id] if u.role.value == "customer"]
        planted = [t for t in said if "漏水" in t and "我叫" in t]
        assert planted == ["我叫[NAME]，你们回电到[PHONE]，地址是[ADDR]，空调还在漏水。"], said
    finally:
        store.close()


@pytest.mark.parametrize("key,contact", [
    ("phone", True), ("contact_phone", True), ("customer_name", True), ("E-mail", True), ("收货地址", True),
    ("wechat_id", True), ("card_no", True), ("联系人", True),
    ("product", False), ("product_name", False), ("order_id", False), ("batch", False), ("region", False),
    ("gift_card_type", False), ("hotel", False), ("备注", False),
])
def test_contact_columns_are_recognised(key, contact):
    from voc.ingest.inbox import is_contact_key

    assert is_contact_key(key) is contact


def test_extra_columns_are_cleaned_at_ingest(tmp_path):
    """calls.csv and text extra columns: contact columns dropped, PII in other values redacted, rest as given."""
    from voc.ingest import scan_inbox
    from voc.text import make_cleaner

    inbox = tmp_path / "inbox"
    (inbox / "transcripts").mkdir(parents=True)
    (inbox / "text").mkdir()
    src = DEMO / "transcripts" / f"{PLANTED_CALL}.json"
    (inbox / "transcripts" / "C1.json").write_bytes(src.read_bytes())
    (inbox / "calls.csv").write_text(
        "call_id,file,start_time,mobile,remark,product\n"
        "C1,transcripts/C1.json,2026-11-20T09:00:00+08:00,138 0013 8000,客户说打13900139000找他,X3空调\n",
        encoding="utf-8")
    rec = {"id": "T1", "text": "空调漏水", "created_at": "2026-11-20T09:00:00+08:00", "姓名": "王小明",
           "extra": {"email": "a.b@example.com"}, "order_id": "HC202611200001"}
    (inbox / "text" / "chats.jsonl").write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    settings = load_settings(environ={})
    scan = scan_inbox(inbox, redact=make_cleaner(settings.text))
    assert scan.rejected == []
    attrs = {c.interaction.external_id: c.interaction.attributes for c in scan.candidates}
    assert attrs["C1"] == {"remark": "客户说打[PHONE]找他", "product": "X3空调"}
    assert attrs["T1"] == {"extra": "{'email': '[EMAIL]'}", "order_id": "HC202611200001"}
    # without a redactor (e.g. a dry scan) the contact columns are still never carried
    raw = {c.interaction.external_id: c.interaction.attributes for c in scan_inbox(inbox).candidates}
    assert "mobile" not in raw["C1"] and "姓名" not in raw["T1"]
