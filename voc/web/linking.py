"""Generated text made navigable: a digest's HTML re-emitted inside the app (only plain structural tags, no
attributes but safe classes, every text escaped again), and ids met in text turned into links to their pages.

Which tokens are contact, topic or customer ids is asked of the store (:func:`voc.store.web_views.known_ids`);
where a contact links depends on the role (reviewers: the call page; owners: the customer's page).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from voc.labels import FINDING_KINDS, SUMMARY_LABELS
from voc.store import Store, web_views
from voc.web.users import User

__all__ = ["KEY_LABELS", "digest_fragment", "id_tokens", "link_parts", "linker"]

# finding ids (kind:date:key), outreach files, then any id-like token (letters and digits: C009, T01754, U0103, T0002)
TOKEN = re.compile(r"[a-z_]+:\d{4}-\d{2}-\d{2}:[^\s,;()（）、·<>\"']+|[A-Za-z0-9_-]+_outreach\.csv"
                   r"|[A-Za-z][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*")
ALLOWED = {"h1", "h2", "h3", "h4", "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "b", "strong",
           "em", "i", "span", "small", "code", "br", "div", "section", "blockquote", "pre", "hr"}
VOID = {"br", "hr"}
DROP = {"script", "style", "title", "head", "iframe", "object", "template", "svg", "math", "noscript"}
SAFE_CLASS = re.compile(r"^[a-z][a-z0-9 _-]{0,60}$")
# Keys that digests written before voc.labels still show raw, and what people call them (the digests' own map,
# plus the app's word for interactions).
KEY_LABELS = {**SUMMARY_LABELS, **FINDING_KINDS, "interactions": "contacts"}


def id_tokens(text: str) -> set[str]:
    return set(TOKEN.findall(text or ""))


def linker(store: Store, user: User, tokens: set[str], *, date: str | None = None):
    """A function ``token -> URL or None`` for these tokens."""
    known = web_views.known_ids(store, {t for t in tokens if not t.endswith("_outreach.csv")})
    reviewer = user.can_review()

    def href(token: str) -> str | None:
        if token.endswith("_outreach.csv"):
            return f"/digests/{date}/departments/{token}" if date else None
        k = known.get(token)
        if k is None:
            return None
        if k.kind == "topic":
            return f"/topics/{k.target}"
        if k.kind == "finding":
            return f"/findings/{quote(k.target, safe='')}"
        if k.kind == "customer":
            return f"/customers/{k.target}"
        if reviewer:
            return f"/calls/{k.target}"
        return f"/customers/{k.customer_id}#c-{k.target}" if k.customer_id else None

    return href


def link_parts(text: str, href) -> list[dict[str, Any]]:
    """``text`` split into parts ({"text", "href"}), ids linked; templates escape every part."""
    parts: list[dict[str, Any]] = []
    pos = 0
    for m in TOKEN.finditer(text or ""):
        url = href(m.group(0))
        if url is None:
            continue
        if m.start() > pos:
            parts.append({"text": text[pos:m.start()], "href": None})
        parts.append({"text": m.group(0), "href": url})
        pos = m.end()
    if pos < len(text or ""):
        parts.append({"text": text[pos:], "href": None})
    return parts


class _Rewriter(HTMLParser):
    def __init__(self, href) -> None:
        super().__init__(convert_charrefs=True)
        self.href, self.out, self.dropping, self.open = href, [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag in DROP:
            self.dropping += tag not in VOID
            return
        if self.dropping or tag not in ALLOWED:
            return
        cls = next((v for k, v in attrs if k == "class" and v and SAFE_CLASS.match(v)), None)
        if tag not in VOID:
            self.open.append(tag)
        self.out.append(f'<{tag} class="{html.escape(cls)}">' if cls else f"<{tag}>")

    def handle_endtag(self, tag):
        if tag in DROP:
            self.dropping = max(0, self.dropping - 1)
        elif not self.dropping and tag in self.open:  # close what is open (and what was left open inside it)
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data):
        if self.dropping:
            return
        label = KEY_LABELS.get(data.strip())
        if label is not None:
            self.out.append(html.escape(label))
            return
        for p in link_parts(data, self.href):
            text = html.escape(p["text"])
            self.out.append(f'<a href="{html.escape(p["href"])}">{text}</a>' if p["href"] else text)


def digest_fragment(raw_html: str, href) -> str:
    """A digest's HTML as a fragment safe to put inside an app page: allowed tags only, attributes dropped (but for
    plain class names), scripts and styles removed with their content, text escaped and ids linked."""
    rw = _Rewriter(href)
    rw.feed(raw_html)
    rw.close()
    return "".join(rw.out + [f"</{t}>" for t in reversed(rw.open)])
