"""QA gold set: synthetic call transcripts with known compliance per rule, scored with the shipped scripts.

Generates N calls (default 240, half retail_after_sales, half telecom_billing) as transcript JSON (the shape of
demo/inbox/transcripts and `voc transcribe --json`) with the intended verdict of every rule, then scores each
call with ``voc.qa.score_call`` and reports precision / recall / F1 per rule, the positive class being
"the rule is violated" (what a QA reviewer wants found).

Variations, each drawn per call from a seeded RNG (see ``make_call``):
  * steps dropped (each step 12 %), understanding and solution swapped (10 %, breaks step_order),
    greeting late (> 10 s, 8 %), closing early (> 30 s before the end, 8 %);
  * forbidden phrase said by the agent (22 %); polite "不知道您…" and forbidden words in customer turns as
    hard negatives;
  * customer turning negative (40 %), with (70 %) or without an apology after it (conditional empathy step);
  * a > 20 s silence with (50 %) or without a hold notice (18 % of calls);
  * overtalk: 9-12 customer interjections over the agent (10 %; 2-5 in 20 % of the others);
  * agent speech rate outside 150-330 chars/min (10 %);
  * paraphrased agent lines: each step line is a wording not copied from the script with probability 30 %;
  * ASR-style homophones: 30 % of calls get 8-20 % of their Han characters replaced by a same-pinyin character.

Run from the repo root:

    .venv/bin/python bench/qa/gold.py [--n 240] [--out /tmp/voc-qa-gold] [--seed 7] [--json results.json]

Writes OUT/transcripts/G####.json and OUT/gold.jsonl ({"call_id", "script", "expected": {rule: passed},
"variations": [...]}) and prints Markdown tables. Customer sentiment comes from the shipped sentiment scorer
(``sentiment.backend`` auto), as in the pipeline; ``--oracle-sentiment`` uses the generator's labels instead.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

STEP_IDS = ("greeting", "identity_check", "understanding", "empathy", "solution", "confirm_resolution", "closing")
OTHER_RULES = ("step_order", "forbidden_phrases", "silence_hold", "overtalk", "speech_rate")
RULE_TYPE = {"greeting": "step presence + timing", "closing": "step presence + timing",
             "identity_check": "step presence", "understanding": "step presence", "solution": "step presence",
             "confirm_resolution": "step presence", "empathy": "conditional step", "step_order": "step order",
             "forbidden_phrases": "forbidden phrases", "silence_hold": "silence without hold notice",
             "overtalk": "overtalk", "speech_rate": "speech rate"}

BRANDS = {"retail_after_sales": ["海川电器", "优品家居", "云杉商城"], "telecom_billing": ["星联通信", "蓝海移动", "天和电信"]}
NAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "周"]

# Agent lines per step: (wording close to the script, embedded in a natural sentence) and paraphrases written
# without looking at the script's variants. {b} brand, {n} staff number, {x} surname.
LINES: dict[str, dict[str, dict[str, list[str]]]] = {
    "greeting": {
        "both": {
            "script": ["您好，很高兴为您服务，我是{n}号客服。", "您好，欢迎致电{b}，我是客服小{x}。", "您好，{b}客服，请讲。",
                       "你好，很高兴为您服务。"],
            "para": ["喂，您好，{b}这边，我是小{x}。", "早上好，{b}客服中心，工号{n}为您服务。", "感谢致电{b}，我是客服小{x}。",
                     "下午好，这里是{b}，我姓{x}。"],
        },
    },
    "identity_check": {
        "retail_after_sales": {
            "script": ["麻烦提供一下订单号。", "请问您的手机号是多少？", "请问怎么称呼您？", "麻烦报一下收货人姓名和手机号。"],
            "para": ["您下单用的是哪个手机呀？", "能说一下您的订单编号吗？", "您贵姓？我登记一下。", "方便告诉我收件人是谁吗？"],
        },
        "telecom_billing": {
            "script": ["请问您是机主本人吗？机主姓名是？", "麻烦提供一下您的身份证号码后四位。", "请问怎么称呼您？", "我先核对一下您的信息。"],
            "para": ["这个号码是登记在您本人名下的吗？", "您输入一下服务密码，我这边验证一下。", "您贵姓？我登记一下。",
                     "请问您现在用的是本机号码来电吗？"],
        },
    },
    "understanding": {
        "both": {
            "script": ["请问有什么可以帮您？", "请问具体是什么情况？", "您的意思是问题一直没解决，对吧？", "我确认一下您的问题。"],
            "para": ["您说的情况我明白了，我再复述一遍。", "您遇到什么麻烦了？跟我说说。", "我理一下，您是说问题一直没处理好？",
                     "您具体说说是怎么回事。"],
        },
    },
    "empathy": {
        "both": {
            "script": ["非常抱歉给您带来不便。", "实在不好意思，让您久等了。", "理解您的心情，您先别着急。", "很抱歉，这是我们的问题。"],
            "para": ["真是对不住，这事确实是我们没做好。", "这确实挺让人着急的，换我也会不高兴。", "辛苦您了，这么晚还打电话过来。",
                     "这个情况给您添麻烦了，对不起。"],
        },
    },
    "solution": {
        "retail_after_sales": {
            "script": ["我这边帮您处理，给您安排退货。", "我给您申请退款，三到五个工作日到账。", "我们安排师傅上门检修。",
                       "建议您先把电源拔掉，等师傅上门。"],
            "para": ["我马上让仓库给您重新发一件。", "明天上午会有维修人员过去看一下。", "退款已经提交了，原路退回到您的付款账户。",
                     "这边直接给您换一台新的。"],
        },
        "telecom_billing": {
            "script": ["这个增值业务我为您办理退订。", "稍后以短信的形式把账单明细发给您。", "建议您改成一百二十八元的套餐。",
                       "多扣的费用我给您申请退还。"],
            "para": ["多扣的十块钱下个月会返还到您的账户里。", "我马上把这个业务给您停掉。", "流量包已经取消了，下个月开始不再扣费。",
                     "这笔费用系统会自动冲正。"],
        },
    },
    "confirm_resolution": {
        "both": {
            "script": ["您看这样可以吗？", "请问还有其他问题吗？", "还有什么可以帮您的吗？", "这样处理您满意吗？"],
            "para": ["这样安排您觉得行吗？", "您还有别的需要吗？", "这个处理方式您能接受吗？", "其他方面还有疑问吗？"],
        },
    },
    "closing": {
        "both": {
            "script": ["感谢您的来电，祝您生活愉快，再见。", "感谢您的耐心等待，再见。", "稍后请您对我的服务进行评价，再见。",
                       "祝您生活愉快，再见。"],
            "para": ["那先这样，拜拜。", "好的，有问题随时联系我们，挂了啊。", "那就不打扰您了，回头见。", "好嘞，那您忙，拜拜。"],
        },
    },
}

CUSTOMER = {
    "retail_after_sales": {
        "problem": ["我上周买的空调，室内机一直往下滴水。", "我买的衣柜送到的时候门板裂了。", "我的订单显示签收了，可我根本没收到货。",
                    "退货寄回去十天了，钱还没退给我。", "洗衣机用了两个月，脱水的时候声音特别大。"],
        "id": ["订单号是2026112034。", "手机号13812345678。", "我姓{x}。", "收货人是我自己，{x}先生。"],
    },
    "telecom_billing": {
        "problem": ["我这个月话费怎么多扣了三十块？", "我没订过什么流量包，怎么每个月都扣钱？", "我想问一下套餐为什么变贵了。",
                    "宽带欠费停机了，可我上周刚交过钱。", "账单里有个增值业务我不认识。"],
        "id": ["是我本人，我姓{x}。", "身份证后四位是1234。", "对，就是用本机打的。", "机主是我，{x}某某。"],
    },
}
NEGATIVE = ["你们这服务太差了，我要投诉！", "都拖了一个星期了，到底怎么回事，气死我了。", "再不解决我就打12315投诉你们！",
            "你们就是骗人的，太让人失望了。", "每次打电话都推来推去，烦死了！"]
NEUTRAL_CUST = ["好的。", "嗯，行。", "好，明白了。", "那就这样吧。", "可以的。", "没有了。"]
FORBIDDEN = {"both": ["这不归我管，你找别的部门。", "你自己看说明书吧。", "我也没办法，规定就是这样。", "我已经说过了，你听不懂吗？",
                      "这事跟我没关系。", "我不知道，你自己去查。", "烦不烦啊，说了多少遍了。"],
             "retail_after_sales": ["爱买不买，我们就这个价。"]}
HARD_NEG_AGENT = ["不知道您现在方便接听吗？", "不知道您那边听得清楚吗？", "好的，我记录一下。"]
HARD_NEG_CUST = ["你们客服是不是都说这不归我管？", "我也没办法，只能再打过来问。", "我不知道在哪里看订单号。"]
FILLER_AGENT = ["好的，我看到了。", "嗯，我记录一下。", "系统显示已经登记了。", "明白，您说的情况我写在备注里了。"]
LATE_TAIL = [("customer", "哦对了，还有个事，发票怎么开？"), ("agent", "发票在订单页面可以申请，电子发票会发到邮箱里。"),
             ("customer", "那纸质的呢？能寄过来吗？"), ("agent", "纸质发票需要单独申请，大概七个工作日寄出。"),
             ("customer", "好的，那我回头自己弄一下，麻烦了。"), ("agent", "好的，没问题。")]
HOLD_NOTICE = "请您稍等一下，不要挂机。"
INTERJECTIONS = ["嗯", "对对", "是的", "啊？", "哦", "嗯嗯"]


def _pick(rng: random.Random, step: str, script: str, para: bool) -> str:
    pools = LINES[step].get(script) or LINES[step]["both"]
    return rng.choice(pools["para" if para else "script"])


def make_call(k: int, script: str, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    """One call: transcript JSON and its gold record. Times are laid out from the turns' lengths."""
    fill = {"b": rng.choice(BRANDS[script]), "n": str(rng.randint(1000, 9999)), "x": rng.choice(NAMES)}
    var: list[str] = []
    present = {s: rng.random() >= 0.12 for s in STEP_IDS if s != "empathy"}
    for s, p in present.items():
        if not p:
            var.append(f"dropped:{s}")
    negative = rng.random() < 0.40
    apology = negative and rng.random() < 0.70
    swap = rng.random() < 0.10
    late_greeting = present["greeting"] and rng.random() < 0.08
    early_closing = present["closing"] and rng.random() < 0.08
    forbidden = rng.random() < 0.22
    silence = rng.random() < 0.18
    hold = silence and rng.random() < 0.5
    overtalk = rng.random() < 0.10
    rate_off = rng.random() < 0.10
    fast = rng.random() < 0.5
    homophones = rng.random() < 0.30
    para_rate = 0.30
    paras: list[str] = []

    def agent(step: str) -> tuple[str, str, str]:
        para = rng.random() < para_rate
        if para:
            paras.append(step)
        return ("agent", _pick(rng, step, script, para).format(**fill), step)

    turns: list[tuple[str, str, str]] = []  # (role, text, tag)
    if present["greeting"]:
        turns.append(agent("greeting"))
    turns.append(("customer", rng.choice(CUSTOMER[script]["problem"]), ""))
    if present["identity_check"]:
        turns.append(agent("identity_check"))
        turns.append(("customer", rng.choice(CUSTOMER[script]["id"]).format(**fill), ""))
    middle: list[tuple[str, str, str]] = []
    if present["understanding"]:
        middle.append(agent("understanding"))
        middle.append(("customer", "对，就是这个问题。", ""))
    if negative:
        middle.append(("customer", rng.choice(NEGATIVE), "negative"))
        if apology:
            middle.append(agent("empathy"))
    if rng.random() < 0.3:
        middle.append(("agent", rng.choice(HARD_NEG_AGENT), "hard_negative"))
    if rng.random() < 0.2:
        middle.append(("customer", rng.choice(HARD_NEG_CUST), "hard_negative"))
    if forbidden:
        pool = FORBIDDEN["both"] + FORBIDDEN.get(script, [])
        middle.append(("agent", rng.choice(pool), "forbidden"))
        var.append("forbidden")
    if silence:
        if hold:
            middle.append(("agent", HOLD_NOTICE, "hold"))
        middle.append(("agent", rng.choice(FILLER_AGENT), "after_silence"))
        var.append("silence+hold" if hold else "silence")
    if present["solution"]:
        sol = agent("solution")
        if swap and present["understanding"]:
            middle.insert(0, sol)
            var.append("reordered")
        else:
            middle.append(sol)
        middle.append(("customer", rng.choice(NEUTRAL_CUST), ""))
    turns += middle
    if present["confirm_resolution"]:
        turns.append(agent("confirm_resolution"))
        turns.append(("customer", "没有了，谢谢。", ""))
    if present["closing"]:
        turns.append(agent("closing"))
    if early_closing:
        turns += [(r, t, "late_tail") for r, t in LATE_TAIL]
        var.append("closing_early")
    if not turns or turns[-1][0] != "agent":
        turns.append(("agent", "好的。", ""))

    if homophones:
        from run import homophone_noise

        rate = rng.uniform(0.08, 0.20)
        noisy = homophone_noise([t for _, t, _ in turns], rate, rng.randrange(10**6), VOCAB)
        turns = [(r, n, tag) for (r, _, tag), n in zip(turns, noisy, strict=True)]
        var.append(f"homophones:{rate:.2f}")
    if paras:
        var.append("paraphrased:" + ",".join(paras))

    # timing: agent chars/s gives the speech rate; customers speak at 4-5 chars/s
    if rate_off:
        agent_cps = rng.uniform(6.3, 8.0) if fast else rng.uniform(1.6, 2.3)  # > 378 or < 138 chars/min
        var.append("speech_rate:" + ("fast" if fast else "slow"))
    else:
        agent_cps = rng.uniform(3.2, 4.8)  # 192-288 chars/min
    t = rng.uniform(0.2, 1.5)
    if late_greeting:
        turns.insert(0, ("customer", "喂？喂？有人吗？", "pre"))
        var.append("greeting_late")
    utts: list[dict[str, Any]] = []
    for i, (role, text, tag) in enumerate(turns):
        n = sum(1 for ch in text if ch.isalnum())
        dur = max(0.6, n / (agent_cps if role == "agent" else rng.uniform(4.0, 5.0)))
        if tag == "after_silence":
            t += rng.uniform(22.0, 30.0)
        if late_greeting and i == 1:
            t = max(t, rng.uniform(11.5, 16.0))
        utts.append({"role": role, "start": round(t, 2), "end": round(t + dur, 2), "text": text})
        t += dur + rng.uniform(0.3, 1.2)
        if tag == "late_tail":
            t += rng.uniform(2.0, 5.0)
    # overtalk: customer interjections laid over agent turns
    agent_utts = [u for u in utts if u["role"] == "agent" and u["end"] - u["start"] > 1.5]
    n_over = rng.randint(9, 12) if overtalk else (rng.randint(2, 5) if rng.random() < 0.2 else 0)
    n_over = min(n_over, len(agent_utts) * 2) if not overtalk else n_over
    actual_over = 0
    for j in range(n_over if agent_utts else 0):
        host = agent_utts[j % len(agent_utts)]
        s = host["start"] + 0.3 + 0.6 * (j // len(agent_utts))
        if s + 0.4 < host["end"] - 0.1:  # separate stretches, each inside its agent turn
            utts.append({"role": "customer", "start": round(s, 2), "end": round(s + 0.4, 2),
                         "text": rng.choice(INTERJECTIONS)})
            actual_over += 1
    if actual_over:
        var.append(f"overtalk:{actual_over}")
    utts.sort(key=lambda u: u["start"])
    duration = max(u["end"] for u in utts) + rng.uniform(0.5, 2.0)

    expected = {s: present[s] for s in present}
    expected["greeting"] = present["greeting"] and not late_greeting
    expected["closing"] = present["closing"] and not early_closing
    expected["empathy"] = (not negative) or apology
    expected["step_order"] = not (swap and present["understanding"] and present["solution"])
    expected["forbidden_phrases"] = not forbidden
    expected["silence_hold"] = not silence or hold
    expected["overtalk"] = actual_over <= 8
    expected["speech_rate"] = not rate_off
    call_id = f"G{k:04d}"
    transcript = {"call_id": call_id, "language": "zh", "model": "gold-synthetic", "duration_s": round(duration, 2),
                  "utterances": utts}
    gold = {"call_id": call_id, "script": script, "expected": expected, "negative_customer": negative,
            "negative_idx": [i for i, u in enumerate(utts) if u["role"] == "customer" and u["text"] in _NEG_SET(turns)],
            "variations": var}
    return transcript, gold


def _NEG_SET(turns) -> set[str]:  # noqa: N802 - texts of the negative turns after any homophone noise
    return {t for _, t, tag in turns if tag == "negative"}


def _vocab() -> set[str]:
    """Characters the homophone noise may draw from: the demo calls and complaints, script_lines.tsv, the pools here."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "demo" / "inbox" / "transcripts").glob("*.json")))
    text += (ROOT / "demo" / "inbox" / "text" / "complaints.jsonl").read_text(encoding="utf-8")
    text += (HERE / "script_lines.tsv").read_text(encoding="utf-8")
    text += json.dumps([LINES, CUSTOMER, NEGATIVE, NEUTRAL_CUST, FORBIDDEN, HARD_NEG_AGENT, HARD_NEG_CUST, FILLER_AGENT,
                        LATE_TAIL, HOLD_NOTICE, BRANDS, NAMES], ensure_ascii=False)
    return set(text)


VOCAB: set[str] = set()


def generate(n: int, seed: int, out: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    VOCAB.update(_vocab())
    rng = random.Random(seed)
    calls = [make_call(k, ("retail_after_sales", "telecom_billing")[k % 2], rng) for k in range(n)]
    (out / "transcripts").mkdir(parents=True, exist_ok=True)
    for tr, _ in calls:
        (out / "transcripts" / f"{tr['call_id']}.json").write_text(json.dumps(tr, ensure_ascii=False, indent=1), encoding="utf-8")
    with (out / "gold.jsonl").open("w", encoding="utf-8") as fh:
        for _, g in calls:
            fh.write(json.dumps(g, ensure_ascii=False) + "\n")
    return calls


# ---- held-out dev set: natural wording, composed from bench/qa/heldout_lines.yaml -----------------------------

HELDOUT_LINES = HERE / "heldout_lines.yaml"
HELDOUT_RULES = ("greeting", "identity_check", "understanding", "empathy", "solution", "confirm_resolution", "closing",
                 "forbidden_phrases")
HELDOUT_NAMES = ["孙", "吴", "郑", "冯", "何", "罗", "高", "林"]


def load_heldout_lines(path: Path = HELDOUT_LINES) -> dict[str, Any]:
    """A lines file; pools it lacks ("scripted" wording, scripted rude lines) come from heldout_lines.yaml."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if path != HELDOUT_LINES:
        base = yaml.safe_load(HELDOUT_LINES.read_text(encoding="utf-8"))
        for script, pools in data.items():
            if script in ("brands", "common"):
                continue
            for key, pool in pools.items():
                if isinstance(pool, dict) and "natural" in pool and "scripted" not in pool:
                    pool["scripted"] = base[script][key]["scripted"]
            pools.setdefault("rude_scripted", base[script]["rude_scripted"])
    return data


def make_heldout_call(k: int, script: str, part: str, lines: dict[str, Any], rng: random.Random
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """One call of the held-out set. ``part`` "scripted": step lines worded like the script's phrase lists, no hard
    negatives; "natural": paraphrases (15 % of step lines scripted) plus traps (lines that look like a step but
    are not), rude paraphrases and honest-but-helpful uncertainty."""
    pool = lines[script]
    fill = {"b": rng.choice(lines["brands"][script]), "n": str(rng.randint(1000, 9999)), "x": rng.choice(HELDOUT_NAMES),
            "d": rng.choice(["周六", "明天", "后天"]), "t": rng.choice(["上午", "下午"])}
    natural = part == "natural"
    var: list[str] = [part]

    def say(text: str) -> str:
        return text.format(**fill)

    def step_line(step: str) -> str:
        kind = "natural" if natural and rng.random() >= 0.15 else "scripted"
        return say(rng.choice(pool[step][kind]))

    def trap(step: str) -> str:
        var.append(f"trap:{step}")
        return say(rng.choice(pool["traps"][step]))

    steps = ("greeting", "identity_check", "understanding", "solution", "confirm_resolution", "closing")
    present = {s: rng.random() >= 0.15 for s in steps}
    var += [f"dropped:{s}" for s in steps if not present[s]]
    complaint = rng.random() < 0.6
    cust = pool["customer"]
    turns: list[tuple[str, str, str]] = []  # (role, text, tag)
    if present["greeting"]:
        turns.append(("agent", step_line("greeting"), "greeting"))
    elif natural and rng.random() < 0.6:
        turns.append(("agent", trap("greeting"), "trap"))
    apology_before = natural and complaint and rng.random() < 0.15
    if apology_before:  # an apology before the customer has complained does not answer the complaint
        turns.append(("agent", say(rng.choice(pool["empathy"]["scripted"])), "apology_before"))
        var.append("apology_before")
    turns.append(("customer", say(rng.choice(cust["problem_complaint" if complaint else "problem_neutral"])),
                  "complaint" if complaint else ""))
    empathy_said = complaint and rng.random() < 0.65
    empathy_turn = ("agent", step_line("empathy"), "empathy")
    if empathy_said and rng.random() < 0.5:
        turns.append(empathy_turn)
        empathy_said = False
    if present["identity_check"]:
        turns.append(("agent", step_line("identity_check"), "identity_check"))
        turns.append(("customer", say(rng.choice(cust["id_answer"])), ""))
    elif natural and rng.random() < 0.6:
        turns.append(("agent", trap("identity_check"), "trap"))
        turns.append(("customer", say(rng.choice(cust["ok"])), ""))
    if present["understanding"]:
        turns.append(("agent", step_line("understanding"), "understanding"))
        turns.append(("customer", say(rng.choice(cust["confirm"])), ""))
    elif natural and rng.random() < 0.6:
        turns.append(("agent", trap("understanding"), "trap"))
    if empathy_said:
        turns.append(empathy_turn)
    angry = complaint and rng.random() < 0.3
    if angry:
        turns.append(("customer", say(rng.choice(cust["angry"])), "complaint"))
        if rng.random() < 0.5:
            turns.append(("agent", step_line("empathy"), "empathy"))
    if complaint and natural and rng.random() < 0.4:
        turns.append(("agent", trap("empathy"), "trap"))
    if rng.random() < 0.4:
        turns.append(("agent", say(rng.choice(lines["common"]["filler"])), ""))
    if natural and rng.random() < 0.5:
        turns.append(("agent", trap("solution"), "trap"))
    if natural and rng.random() < 0.3:
        turns.append(("agent", trap(rng.choice(["greeting", "identity_check", "closing", "confirm_resolution"])), "trap"))
    rude = rng.random() < 0.25
    if rude:
        turns.append(("agent", say(rng.choice(pool["rude" if natural else "rude_scripted"])), "rude"))
        var.append("rude")
    if natural and rng.random() < 0.3:
        turns.append(("agent", say(rng.choice(pool["honest"])), "honest"))
        var.append("honest")
    if present["solution"]:
        turns.append(("agent", step_line("solution"), "solution"))
        turns.append(("customer", say(rng.choice(cust["ok"])), ""))
    if present["confirm_resolution"]:
        turns.append(("agent", step_line("confirm_resolution"), "confirm_resolution"))
        turns.append(("customer", say(rng.choice(cust["no_more"])), ""))
    if present["closing"]:
        turns.append(("agent", step_line("closing"), "closing"))
    elif natural and rng.random() < 0.5:
        turns.append(("agent", trap("closing"), "trap"))
    if turns[-1][0] != "agent":
        turns.append(("agent", "好的。", ""))

    utts: list[dict[str, Any]] = []
    t = rng.uniform(0.2, 1.0)
    for role, text, _tag in turns:
        n = sum(1 for ch in text if ch.isalnum())
        dur = max(0.6, n / (rng.uniform(3.6, 4.6) if role == "agent" else rng.uniform(4.0, 5.0)))
        utts.append({"role": role, "start": round(t, 2), "end": round(t + dur, 2), "text": text})
        t += dur + rng.uniform(0.3, 1.0)
    duration = utts[-1]["end"] + rng.uniform(0.5, 1.5)
    tags = [tag for _, _, tag in turns]
    first_complaint = next((i for i, tg in enumerate(tags) if tg == "complaint"), None)
    expected = {s: present[s] for s in steps}
    expected["empathy"] = first_complaint is None or "empathy" in tags[first_complaint:]
    expected["forbidden_phrases"] = not rude
    if complaint:
        var.append("complaint")
    call_id = f"H{k:04d}"
    transcript = {"call_id": call_id, "language": "zh", "model": "heldout-composed", "duration_s": round(duration, 2),
                  "utterances": utts}
    gold = {"call_id": call_id, "script": script, "part": part, "expected": expected, "negative_customer": complaint,
            "negative_idx": [i for i, tg in enumerate(tags) if tg == "complaint"], "tags": tags, "variations": var}
    return transcript, gold


def _texts(node: Any, skip: tuple[str, ...] = ()) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for x in node for t in _texts(x, skip)]
    if isinstance(node, dict):
        return [t for k, v in node.items() if k not in skip for t in _texts(v, skip)]
    return []


def _grams(text: str, k: int) -> set[str]:
    import re

    t = re.sub(r"[^\w\x00]+|\d", "", re.sub(r"\{\w+\}", "\x00", text))  # placeholders break a stretch
    return {t[i:i + k] for i in range(len(t) - k + 1) if "\x00" not in t[i:i + k]}


def check_overlap(k: int = 8, lines: Path = HELDOUT_LINES) -> list[str]:
    """Training examples (voc/qa/scripts/examples/*.yaml) that share a ``k``-character stretch with a held-out line
    written in natural wording (the "scripted" pools are built from the scripts' own phrases and are exempt)."""
    import yaml

    held = _texts(yaml.safe_load(lines.read_text(encoding="utf-8")), skip=("brands", "scripted", "rude_scripted"))
    by_gram: dict[str, str] = {}
    for t in held:
        for g in _grams(t, k):
            by_gram.setdefault(g, t)
    out = []
    for path in sorted((ROOT / "voc" / "qa" / "scripts" / "examples").glob("*.yaml")):
        for t in _texts(yaml.safe_load(path.read_text(encoding="utf-8")), skip=("fills",)):
            hit = next((g for g in _grams(t, k) if g in by_gram), None)
            if hit:
                out.append(f"{path.name}: {t!r} shares {hit!r} with held-out {by_gram[hit]!r}")
    return out


def generate_heldout(seed: int, out: Path | None = None, scripted: int = 16, natural: int = 52,
                     lines: dict[str, Any] | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``scripted`` + ``natural`` calls per script (default 2 x 68 = 136), seeded; written to ``out`` when given."""
    lines = lines or load_heldout_lines()
    rng = random.Random(seed)
    calls, k = [], 0
    for script in ("retail_after_sales", "telecom_billing"):
        for part, n in (("scripted", scripted), ("natural", natural)):
            for _ in range(n):
                calls.append(make_heldout_call(k, script, part, lines, rng))
                k += 1
    if out is not None:
        (out / "transcripts").mkdir(parents=True, exist_ok=True)
        for tr, _ in calls:
            (out / "transcripts" / f"{tr['call_id']}.json").write_text(json.dumps(tr, ensure_ascii=False, indent=1),
                                                                      encoding="utf-8")
        with (out / "gold.jsonl").open("w", encoding="utf-8") as fh:
            for _, g in calls:
                fh.write(json.dumps(g, ensure_ascii=False) + "\n")
    return calls


RESULTS = HERE / "results"


class CachedVectors:
    """Sentence vectors of the e5 embedder the step model uses, cached in an npz (bench/qa/results is git-ignored)."""

    def __init__(self, path: Path = RESULTS / "e5_vectors.npz") -> None:
        import numpy as np

        from voc.semantic import EmbeddingCache

        self.path, self.new, self.embed_s = path, 0, 0.0
        self._embedder = None
        self.name = "e5-small-q4:original:query"
        self.cache = EmbeddingCache.load(path, self.name) if path.exists() else EmbeddingCache(self.name, 384)
        self._np = np

    def __call__(self, texts: list[str]):
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            if self._embedder is None:
                from voc.semantic import load_embedder

                self._embedder = load_embedder("e5")
            t0 = time.perf_counter()
            self.cache.put(missing, self._embedder.embed(missing))
            self.embed_s += time.perf_counter() - t0
            self.new += len(missing)
        return self._np.stack([self.cache.get(t) for t in texts])

    def save(self) -> None:
        if self.new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.cache.save(self.path)


def judges(book, vectors, seed: int = 7) -> dict[str, Any]:
    from voc.qa.steps import fit_judge

    return {name: fit_judge(book.training[name], vectors, seed=seed, embedder=vectors.name) for name in book.scripts}


def score(calls, oracle_sentiment: bool, semantic: bool,
          rules_dir: Path | None = None, model: bool = False) -> list[tuple[dict[str, Any], dict[str, bool]]]:
    from voc.config import QASettings, SentimentSettings
    from voc.qa import load_scripts, score_call
    from voc.qa.scorer import verdict_of
    from voc.records import Role, SentimentScore
    from voc.semantic import qa_embedder as e5_embedder
    from voc.sentiment import get_scorer
    from voc.transcribe.jsonio import transcript_from_json

    book = load_scripts(rules_dir)
    settings = QASettings(review_sample_rate=0.0)
    scorer = None if oracle_sentiment else get_scorer(SentimentSettings())
    embedder = e5_embedder() if semantic else None
    step_judges = {}
    if model:
        vectors = CachedVectors()
        t0 = time.perf_counter()
        step_judges = judges(book, vectors)
        vectors.save()
        print(f"step models fitted in {time.perf_counter() - t0:.1f} s ({vectors.new} new sentence vectors)")
    out = []
    for tr, g in calls:
        t = transcript_from_json(tr)
        cust = [u for u in t.utterances if u.role != Role.AGENT]
        if oracle_sentiment:
            neg = set(g["negative_idx"])
            values = [-0.9 if k in neg else 0.2 for k in (tr["utterances"].index(_find(tr, u)) for u in cust)]
        else:
            values = [float(v) for v in scorer.score([u.text for u in cust])] if cust else []
        sents = [SentimentScore(t.interaction_id, u.idx, v, "negative" if v < -0.35 else "neutral")
                 for u, v in zip(cust, values, strict=True)]
        r = score_call(t.utterances, t.metrics, sents, book.scripts[g["script"]], settings, 7,
                       interaction_id=t.interaction_id, embedder=embedder, judge=step_judges.get(g["script"]))
        g["not_sure"] = [o.rule_id for o in r.outcomes if verdict_of(o) == "not_sure"]
        out.append((g, {o.rule_id: o.passed for o in r.outcomes}))
    if model:
        vectors.save()
    return out


def _find(tr, u):
    return next(x for x in tr["utterances"] if x["start"] == u.start and x["text"] == u.text and x["role"] == u.role.value)


def prf(pairs: list[tuple[bool, bool]]) -> dict[str, Any]:
    """pairs of (gold passed, predicted passed); positive = violation."""
    tp = sum(1 for g, p in pairs if not g and not p)
    fp = sum(1 for g, p in pairs if g and not p)
    fn = sum(1 for g, p in pairs if not g and p)
    prec = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    f1 = 2 * prec * rec / (prec + rec) if prec and rec else (0.0 if (tp + fp + fn) else None)
    acc = sum(1 for g, p in pairs if g == p) / len(pairs) if pairs else None
    return {"n": len(pairs), "violations": tp + fn, "tp": tp, "fp": fp, "fn": fn, "precision": prec, "recall": rec,
            "f1": f1, "accuracy": acc}


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def table(rows: list[tuple[str, dict[str, Any]]], head: str) -> list[str]:
    lines = [f"| {head} | calls | violations | TP | FP | FN | precision | recall | F1 | accuracy |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in rows:
        lines.append(f"| {name} | {m['n']} | {m['violations']} | {m['tp']} | {m['fp']} | {m['fn']} | {_f(m['precision'])} "
                     f"| {_f(m['recall'])} | {_f(m['f1'])} | {_f(m['accuracy'])} |")
    return lines


def report(results) -> tuple[list[str], dict[str, Any]]:
    per_rule: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    per_type: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    per_cond: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for g, pred in results:
        noisy = any(v.startswith("homophones") for v in g["variations"])
        for rule, exp in g["expected"].items():
            if rule not in pred:
                continue
            pair = (exp, pred[rule])
            per_rule[rule].append(pair)
            per_type[RULE_TYPE[rule]].append(pair)
            paraphrased = {x for v in g["variations"] if v.startswith("paraphrased:") for x in v.split(":", 1)[1].split(",")}
            text = "homophones" if noisy else "clean"
            if rule == "forbidden_phrases":
                per_cond[f"forbidden phrases, {text}"].append(pair)
            elif rule in STEP_IDS and rule != "empathy":
                wording = "paraphrase" if rule in paraphrased else "script wording"
                per_cond[f"steps, {wording}, {text}"].append(pair)
    metrics = {"per_rule": {k: prf(v) for k, v in per_rule.items()}, "per_type": {k: prf(v) for k, v in per_type.items()},
               "per_condition": {k: prf(v) for k, v in per_cond.items()}}
    allp = [p for v in per_rule.values() for p in v]
    metrics["all"] = prf(allp)
    lines = ["### By rule type", ""]
    lines += table(sorted(metrics["per_type"].items()) + [("**all rules**", metrics["all"])], "rule type")
    lines += ["", "### By rule", ""]
    lines += table([(k, metrics["per_rule"][k]) for k in (*STEP_IDS, *OTHER_RULES) if k in metrics["per_rule"]], "rule")
    lines += ["", "### Wording and text condition (step rules without empathy; forbidden phrases)", ""]
    lines += table(sorted(metrics["per_condition"].items()), "condition")
    return lines, metrics


def errors(results, limit: int = 15) -> list[str]:
    out = []
    for g, pred in results:
        for rule, exp in g["expected"].items():
            if rule in pred and pred[rule] != exp:
                out.append(f"{g['call_id']} {rule}: gold {'pass' if exp else 'FAIL'}, scored {'pass' if pred[rule] else 'FAIL'}"
                           f" ({'; '.join(g['variations']) or 'no variation'})")
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


def heldout_report(results) -> tuple[list[str], dict[str, Any]]:
    """Per rule and part (scripted / natural): precision, recall, F1 (positive = step missing / violation)."""
    metrics: dict[str, Any] = {}
    lines: list[str] = []
    for part in ("scripted", "natural"):
        rows = [(g, p) for g, p in results if g["part"] == part]
        if not rows:
            continue
        per = {r: prf([(g["expected"][r], p[r]) for g, p in rows if r in p]) for r in HELDOUT_RULES}
        f1s = [m["f1"] for m in per.values() if m["f1"] is not None]
        verdicts = sum(m["n"] for m in per.values())
        right = sum(round(m["accuracy"] * m["n"]) for m in per.values() if m["accuracy"] is not None)
        metrics[part] = {"calls": len(rows), "per_rule": per, "macro_f1": sum(f1s) / len(f1s) if f1s else None,
                         "verdicts_right": right, "verdicts": verdicts}
        unsure = sum(len([r for r in g.get("not_sure", ()) if r in HELDOUT_RULES]) for g, _ in rows)
        metrics[part]["not_sure"] = unsure
        lines += [f"### {part} calls ({len(rows)}): {right}/{verdicts} verdicts right, macro F1 "
                  f"{_f(metrics[part]['macro_f1'])}; {unsure} not-sure verdicts (counted as pass)", ""]
        lines += table([(r, per[r]) for r in HELDOUT_RULES], "rule") + [""]
    return lines, metrics


def heldout_main(args) -> None:
    t0 = time.perf_counter()
    calls = generate_heldout(args.seed, args.out, scripted=0 if args.natural_only else 16,
                             lines=load_heldout_lines(args.lines))
    results = score(calls, args.oracle_sentiment, args.semantic, args.rules_dir, model=args.model)
    t1 = time.perf_counter()
    lines, metrics = heldout_report(results)
    print(f"held-out set: {len(calls)} calls (seed {args.seed}) in {args.out}; scored in {t1 - t0:.1f} s "
          f"({1000 * (t1 - t0) / len(calls):.0f} ms a call incl. sentiment)\n")
    print("\n".join(lines))
    if args.errors:
        print("Disagreements:\n")
        print("\n".join(f"- {e}" for e in errors(results, args.errors)) or "- none")
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, **metrics}, ensure_ascii=False, indent=1), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("/tmp/voc-qa-gold"))
    ap.add_argument("--oracle-sentiment", action="store_true", help="use the generator's negative turns, not the sentiment scorer")
    ap.add_argument("--semantic", action="store_true", help="also the e5 semantic matcher (slow)")
    ap.add_argument("--rules-dir", type=Path, help="score with these scripts instead of the shipped ones")
    ap.add_argument("--json", type=Path, help="write the metrics here")
    ap.add_argument("--errors", type=int, default=15, help="list this many disagreements")
    ap.add_argument("--model", action="store_true", help="score with the step model (e5 + n-grams, calibrated)")
    ap.add_argument("--check-overlap", action="store_true",
                    help="list training examples that share 8 characters with a natural held-out line; exit 1 if any")
    ap.add_argument("--heldout", action="store_true",
                    help="score the held-out dev set composed from heldout_lines.yaml instead (per part: scripted / natural)")
    ap.add_argument("--lines", type=Path, default=HELDOUT_LINES,
                    help="with --heldout / --check-overlap: another lines file, e.g. bench/qa/fresh_lines.yaml")
    ap.add_argument("--natural-only", action="store_true", help="with --heldout: natural calls only")
    args = ap.parse_args()
    if args.n < 1:
        sys.exit("--n must be at least 1")
    sys.path.insert(0, str(HERE))
    if args.check_overlap:
        bad = check_overlap(lines=args.lines)
        print("\n".join(bad) or "no training example shares 8 characters with a natural held-out line")
        sys.exit(1 if bad else 0)
    if args.heldout:
        return heldout_main(args)
    t0 = time.perf_counter()
    calls = generate(args.n, args.seed, args.out)
    t1 = time.perf_counter()
    results = score(calls, args.oracle_sentiment, args.semantic, args.rules_dir, model=args.model)
    t2 = time.perf_counter()
    lines, metrics = report(results)
    sentiment = "oracle (generator labels)" if args.oracle_sentiment else "shipped scorer (sentiment.backend auto)"
    print(f"{args.n} calls (seed {args.seed}) in {args.out}; generated in {t1 - t0:.1f} s, scored in {t2 - t1:.1f} s; "
          f"sentiment: {sentiment}; semantic matcher: {'on' if args.semantic else 'off'}; step model: {'on' if args.model else 'off'}; "
          f"scripts: {args.rules_dir or 'shipped'}\n")
    print("\n".join(lines))
    if args.errors:
        print("\nDisagreements:\n")
        print("\n".join(f"- {e}" for e in errors(results, args.errors)) or "- none")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "seed": args.seed, "sentiment": sentiment, "semantic": args.semantic,
                                         **metrics}, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
