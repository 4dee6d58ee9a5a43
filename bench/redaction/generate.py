"""Seeded generator of Chinese customer-service sentences with planted PII and numbers that must stay.

Each row: {"text", "split": "dev"|"heldout"|"blind"|"negative", "spans": [{"type","start","end"}] (PII to remove),
"keep": [{"what","start","end"}] (order numbers, prices, dates, quantities that must stay)}.
Dev and held-out use disjoint carrier templates and partly different renderings.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

CN = "零一二三四五六七八九"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰萍红娟建国志文斌宇浩然欣怡子涵梓轩佳琪"
PROVINCES = [("广东省", "深圳市", "南山区"), ("浙江省", "杭州市", "西湖区"), ("江苏省", "南京市", "鼓楼区"),
             ("", "北京市", "朝阳区"), ("", "上海市", "浦东新区"), ("四川省", "成都市", "武侯区"),
             ("湖北省", "武汉市", "洪山区"), ("山东省", "青岛市", "市南区"), ("", "天津市", "河西区")]
ROADS = ["科技园南路", "文三路", "中山北路", "人民大道", "解放西街", "建设路", "长江路", "和平里东街", "学府路", "滨江大道"]
ESTATES = ["阳光花园", "翠湖小区", "锦绣家园", "望京西园", "金色家园", "城南公寓", "东方大厦"]
DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "example.cn", "corp-mail.com.cn"]
AREA = ["010", "021", "022", "023", "0755", "0571", "025", "028", "027", "0532", "0731"]
MOBILE_PREFIX = ["130", "131", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157", "158",
                 "159", "166", "170", "173", "176", "177", "180", "181", "182", "185", "186", "187", "188", "189",
                 "191", "198", "199"]
CARD_BIN = ["622202", "621700", "622848", "436742", "622588", "625807", "628288", "622609", "601382", "518710"]


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def luhn_complete(body: str) -> str:
    for d in "0123456789":
        s = body + d
        total = 0
        for i, c in enumerate(reversed(s)):
            v = int(c)
            if i % 2:
                v = v * 2 - 9 if v > 4 else v * 2
            total += v
        if total % 10 == 0:
            return s
    raise RuntimeError


def luhn_valid(s: str) -> bool:
    return luhn_complete(s[:-1]) == s


def id_number(rng: random.Random) -> str:
    region = rng.choice(["110105", "310104", "440305", "330106", "320106", "510107", "420111", "370202"])
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = region + birth + digits(rng, 3)
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * k for c, k in zip(body, w, strict=True)) % 11]


def to_chinese(s: str, rng: random.Random, one: str | None = None) -> str:
    one = one or rng.choice(["一", "幺"])
    zero = rng.choice(["零", "〇"])
    return "".join(one if c == "1" else zero if c == "0" else CN[int(c)] if c.isdigit() else c for c in s)


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in s)


def group(s: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for k in sizes:
        out.append(s[i:i + k])
        i += k
    if i < len(s):
        out.append(s[i:])
    return sep.join(p for p in out if p)


# --- PII renderers: name -> (type, render(rng, heldout) -> str) ---------------------------------

def r_mobile(rng, held):
    num = rng.choice(MOBILE_PREFIX) + digits(rng, 8)
    forms = ["plain", "space344", "dash344", "cn", "mixed", "cn_space", "plus86", "fullwidth"]
    if held:
        forms += ["cn_comma", "space_each", "dot344", "mixed2"]
    f = rng.choice(forms)
    if f == "plain":
        return num
    if f == "space344":
        return group(num, [3, 4, 4], " ")
    if f == "dash344":
        return group(num, [3, 4, 4], "-")
    if f == "dot344":
        return group(num, [3, 4, 4], ".")
    if f == "cn":
        return to_chinese(num, rng)
    if f == "cn_space":
        return group(to_chinese(num, rng), [3, 4, 4], " ")
    if f == "cn_comma":
        return group(to_chinese(num, rng), [3, 4, 4], "，")
    if f == "mixed":
        return to_chinese(num[:3], rng) + num[3:7] + to_chinese(num[7:], rng)
    if f == "mixed2":
        return num[:3] + " " + to_chinese(num[3:7], rng) + " " + num[7:]
    if f == "plus86":
        return rng.choice(["+86 ", "+86", "86-", "+86-"]) + rng.choice([num, group(num, [3, 4, 4], " ")])
    if f == "space_each":
        return " ".join(to_chinese(num, rng))
    return fullwidth(num)


def r_landline(rng, held):
    area = rng.choice(AREA)
    local = str(rng.randint(2, 8)) + digits(rng, 7 if len(area) == 3 else rng.choice([6, 7]))
    f = rng.choice(["dash", "paren", "space", "plain"] + (["cn_dash", "paren_full"] if held else []))
    if f == "dash":
        return f"{area}-{local}"
    if f == "paren":
        return f"({area}){local}"
    if f == "paren_full":
        return f"（{area}）{local}"
    if f == "space":
        return f"{area} {group(local, [4, 4], ' ')}"
    if f == "cn_dash":
        return to_chinese(area, rng, "一") + "-" + to_chinese(local, rng, "一")
    return area + local


def r_id(rng, held):
    num = id_number(rng)
    f = rng.choice(["plain", "plain", "space", "lower_x"] + (["cn", "dash"] if held else []))
    if f == "space":
        return group(num, [6, 8, 4], " ")
    if f == "lower_x":
        return num.lower()
    if f == "cn":
        return to_chinese(num[:-1], rng, "幺") + num[-1]
    if f == "dash":
        return group(num, [6, 8, 4], "-")
    return num


def r_card(rng, held):
    n = rng.choice([16, 17, 18, 19])
    num = luhn_complete(rng.choice(CARD_BIN) + digits(rng, n - 7))
    f = rng.choice(["plain", "space4", "dash4"] + (["space_last", "fullwidth"] if held else []))
    if f == "space4":
        return group(num, [4] * 5, " ")
    if f == "dash4":
        return group(num, [4] * 5, "-")
    if f == "space_last":
        return group(num, [6, len(num) - 10, 4], " ")
    if f == "fullwidth":
        return fullwidth(num)
    return num


def r_email(rng, held):
    user = rng.choice(["zhang", "li.na", "wangwei", "chen_x", "user", "liu", "kefu.test", "abc"]) + digits(rng, rng.randint(0, 4))
    return f"{user}@{rng.choice(DOMAINS)}"


def r_name(rng, held):
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))


def r_addr(rng, held):
    prov, city, dist = rng.choice(PROVINCES)
    road = rng.choice(ROADS)
    parts = [prov if rng.random() < 0.5 else "", city, dist, road, f"{rng.randint(1, 999)}号"]
    if rng.random() < 0.6:
        parts.append(rng.choice(ESTATES))
        parts.append(f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 33)}0{rng.randint(1, 6)}室")
    elif rng.random() < 0.5:
        parts.append(f"{rng.randint(2, 40)}楼")
    return "".join(parts)


RENDER = {"PHONE": (r_mobile, r_landline), "ID": (r_id,), "CARD": (r_card,), "EMAIL": (r_email,),
          "NAME": (r_name,), "ADDR": (r_addr,)}

# --- values that must stay ---------------------------------------------------------------------


def k_order(rng, held):
    f = rng.choice(["digits", "luhn", "alnum", "date_prefix", "short"])
    if f == "digits":
        return digits(rng, rng.randint(12, 20))
    if f == "luhn":  # an order number that happens to pass Luhn
        return luhn_complete(str(rng.randint(1, 9)) + digits(rng, rng.randint(15, 18)))
    if f == "alnum":
        return rng.choice(["SF", "JD", "YT", "DD", "TB", "ZT", "E", "VA"]) + digits(rng, rng.randint(10, 15))
    if f == "date_prefix":
        return f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + digits(rng, rng.randint(6, 10))
    return digits(rng, rng.randint(6, 10))


def k_price(rng, held):
    v = rng.choice([rng.randint(9, 99), rng.randint(100, 9999), rng.randint(10000, 99999)])
    f = rng.choice(["yuan", "kuai", "yen", "yen_dec", "cn"])
    if f == "yuan":
        return f"{v}元"
    if f == "kuai":
        return f"{v}块"
    if f == "yen":
        return f"¥{v}"
    if f == "yen_dec":
        return f"¥{v}.{rng.randint(0, 99):02d}"
    return rng.choice(["三百九十九元", "一千二百块", "两千八百八十八元", "九十九块九"])


def k_date(rng, held):
    y, m, d = rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28)
    f = rng.choice(["cn", "iso", "md", "spoken", "slash"])
    if f == "cn":
        return f"{y}年{m}月{d}日"
    if f == "iso":
        return f"{y}-{m:02d}-{d:02d}"
    if f == "md":
        return f"{m}月{d}号"
    if f == "slash":
        return f"{y}/{m}/{d}"
    return to_chinese(str(y), rng, "一") + "年" + ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"][m - 1] + "月"


def k_time(rng, held):
    return rng.choice([f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}", f"下午{rng.randint(1, 6)}点", f"{rng.randint(8, 22)}点{rng.randint(1, 59)}分"])


def k_qty(rng, held):
    return rng.choice([f"{rng.randint(1, 50)}件", f"{rng.randint(2, 9)}台", f"{rng.randint(1, 500)}个", f"{rng.randint(1, 20)}箱",
                       f"{rng.randint(1, 30)}天", f"{rng.randint(10, 120)}分钟", f"{rng.randint(1, 99)}GB", "两个", "三次"])


KEEP = {"ORDER": k_order, "PRICE": k_price, "DATE": k_date, "TIME": k_time, "QTY": k_qty}

# --- carrier templates ---------------------------------------------------------------------------
# {PHONE} {ID} {CARD} {EMAIL} {NAME} {ADDR} are PII slots; {ORDER} {PRICE} {DATE} {TIME} {QTY} must stay.

DEV_TEMPLATES = [
    "你好，我的手机号是{PHONE}，麻烦帮我查一下订单{ORDER}的物流",
    "我手机{PHONE}，上周买的空调到现在还没装",
    "麻烦回个电话到{PHONE}，谢谢",
    "联系电话{PHONE}，收件人{NAME}",
    "我{DATE}下的单，订单号{ORDER}，一共{PRICE}，怎么还没发货",
    "订单号是{ORDER}，你们打{PHONE}联系我就行",
    "号码{PHONE}，这个号能收到短信吗",
    "请拨打{PHONE}找{NAME}",
    "我的身份证号码是{ID}，实名认证一直失败",
    "身份证{ID}，帮我查下名下有几张卡",
    "证件号{ID}，办理过户需要带什么",
    "退款请退到银行卡{CARD}，谢谢",
    "卡号{CARD}，为什么扣了我{PRICE}",
    "我的信用卡{CARD}被重复扣款了两次，订单{ORDER}",
    "把发票发到我邮箱{EMAIL}就可以",
    "邮箱是{EMAIL}，电子发票一直没收到",
    "我叫{NAME}，{DATE}买的冰箱坏了",
    "收件人{NAME}，电话{PHONE}，地址是{ADDR}",
    "地址是{ADDR}，这几天能送到吗",
    "寄到{ADDR}，快递员一直不接电话",
    "我住在{ADDR}，师傅{TIME}能上门吗",
    "退货地址填的是{ADDR}对吧",
    "{PHONE}是我的号码，有问题打这个",
    "客服你好，{NAME}，手机{PHONE}，订单{ORDER}要退款",
    "信用卡{CARD}，退款{PRICE}什么时候到账",
    "以旧换新抵扣了{PRICE}，我的手机号{PHONE}",
    "我买了{QTY}，订单编号{ORDER}，金额{PRICE}",
    "保修期内坏了，联系方式{PHONE}，麻烦尽快处理",
    "快递单号{ORDER}，收货电话{PHONE}",
    "{DATE} {TIME}打过你们电话，我的号码是{PHONE}",
    "银行账号{CARD}，开户人{NAME}",
    "留个电话吧，{PHONE}",
    "工单{ORDER}一直没人处理，我电话是{PHONE}",
    "持卡人{NAME}，卡号{CARD}",
    "身份证是{ID}，手机{PHONE}",
    "你们快递员把东西送到{ADDR}了，但我不在家",
    "我的联系邮箱{EMAIL}，手机{PHONE}",
    "上个月{DATE}充了{PRICE}话费，手机号{PHONE}",
    "麻烦登记一下，姓名{NAME}，身份证{ID}",
    "有事打{PHONE}，白天都在",
    "换货请寄到{ADDR}，收件人{NAME}",
    "发票抬头个人，邮箱{EMAIL}，订单{ORDER}",
    "我用尾号{ORDER}的卡付的，卡号是{CARD}",
    "座机{PHONE}，手机不常用",
    "你们这个{PRICE}的套餐我不要了，号码{PHONE}",
]

HELDOUT_TEMPLATES = [
    "喂，是这样的，我这个号{PHONE}，昨天开始就没信号了",
    "你记一下啊，{PHONE}，我姓{SURNAME}",
    "师傅到了给我打电话，{PHONE}，我在家",
    "回拨号码：{PHONE}",
    "嗯我报一下身份证啊{ID}",
    "实名的那个证件是{ID}对不对",
    "钱退到{CARD}这张卡上",
    "银行卡号码是{CARD}吗我看一下",
    "要不你们发我邮件吧，{EMAIL}",
    "名字叫{NAME}，电话号码是{PHONE}",
    "帮我改一下收货地址，改到{ADDR}",
    "家住{ADDR}，装空调要多久",
    "买了{QTY}花了{PRICE}，{DATE}到的，订单号码{ORDER}，我手机号码{PHONE}",
    "运单{ORDER}显示签收了，可我没收到，联系我{PHONE}",
    "这是我的联系方式{PHONE}，还有邮箱{EMAIL}",
    "嗯对，卡是{CARD}，然后扣了{PRICE}",
    "{NAME}是收件人，手机号{PHONE}，订单是{ORDER}",
    "我想问一下{DATE}那笔{PRICE}的退款，身份证{ID}",
    "他说打{PHONE}这个电话就可以",
    "我爱人的电话{PHONE}，也可以联系她",
]

# Written after the first full run had printed misses for the held-out set above (see README):
# these were never looked at before the final table, so they are the blind generalisation check.
BLIND_TEMPLATES = [
    "哎你们那个售后到底什么时候来，我都等了{QTY}了，{PHONE}你们打这个",
    "登记的手机{PHONE}已经停机了，换成{PHONE}",
    "核对一下，身份证尾号不对，完整的是{ID}",
    "扣款的是我那张{CARD}，一共{PRICE}",
    "我老婆叫{NAME}，她的手机是{PHONE}",
    "东西麻烦送货到{ADDR}，放门口就行",
    "账单寄给{EMAIL}，抄送也行",
    "{DATE}那天{TIME}左右我打过{PHONE}，没人接",
    "机主{NAME}，证件号码{ID}，要补卡",
    "您好这边是客户{NAME}，订单{ORDER}，金额{PRICE}",
    "新地址{ADDR}，原来那个不要了",
    "还款用的储蓄卡是{CARD}",
    "快递放驿站了，取件码{ORDER}，我的电话{PHONE}",
    "微信就是手机号{PHONE}，加我吧",
    "请把{PRICE}退回原卡{CARD}",
]

NEGATIVE_TEMPLATES = [
    "订单号{ORDER}，{DATE}下的单，到现在还没发货",
    "我{DATE}买的，花了{PRICE}，才用了{QTY}就坏了",
    "运单号{ORDER}，物流显示{DATE} {TIME}已签收",
    "订单{ORDER}申请退款{PRICE}，什么时候到账",
    "你们{PRICE}的套餐能不能便宜点，我用了{QTY}了",
    "{DATE}之前能到吗，订单编号{ORDER}",
    "以旧换新补贴了{PRICE}，一共买了{QTY}",
    "单号{ORDER}，快递员说{TIME}送到",
    "工单{ORDER}处理了{QTY}还没结果",
    "保修期到{DATE}，维修费要{PRICE}吗",
    "我打了{QTY}电话都没人接，订单{ORDER}",
    "{TIME}的时候客服说{DATE}退款{PRICE}",
    "买了{QTY}，单价{PRICE}，订单号码{ORDER}",
    "序列号{ORDER}，这台机器还在保吗",
    "优惠券减了{PRICE}，实付{PRICE}，订单是{ORDER}",
]

SLOT_RE = re.compile(r"\{([A-Z]+)\}")


def fill(template: str, rng: random.Random, split: str) -> dict:
    held = split in ("heldout", "blind")
    text, spans, keep, pos = [], [], [], 0
    last = 0
    for m in SLOT_RE.finditer(template):
        lit = template[last:m.start()]
        text.append(lit)
        pos += len(lit)
        slot = m.group(1)
        if slot == "SURNAME":
            value, kind = rng.choice(SURNAMES), "NAME"
        elif slot in RENDER:
            value, kind = rng.choice(RENDER[slot])(rng, held), slot
        else:
            value, kind = KEEP[slot](rng, held), None
        text.append(value)
        if kind:
            spans.append({"type": kind, "start": pos, "end": pos + len(value)})
        else:
            keep.append({"what": slot, "start": pos, "end": pos + len(value)})
        pos += len(value)
        last = m.end()
    text.append(template[last:])
    return {"text": "".join(text), "split": split, "spans": spans, "keep": keep, "template": template}


def generate(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        r = i % 10
        if r < 5:
            rows.append(fill(rng.choice(DEV_TEMPLATES), rng, "dev"))
        elif r < 6:
            rows.append(fill(rng.choice(HELDOUT_TEMPLATES), rng, "heldout"))
        elif r < 8:
            rows.append(fill(rng.choice(BLIND_TEMPLATES), rng, "blind"))
        else:
            rows.append(fill(rng.choice(NEGATIVE_TEMPLATES), rng, "negative"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20240305)
    ap.add_argument("--out", type=Path, default=Path("bench/redaction/generated.jsonl"))
    args = ap.parse_args()
    rows = generate(args.n, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
