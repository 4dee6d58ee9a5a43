"""Customers: the at-risk list and one customer's page (timeline across channels, repeat chains, risk reasons)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from voc.web import owner
from voc.web.deps import ApiUser, PageUser, Web, page
from voc.web.linking import id_tokens, link_parts, linker

__all__ = ["router"]

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/customers", include_in_schema=False)
def at_risk_page(request: Request, user: PageUser, web: Web, limit: Limit = 100):
    rows = owner.at_risk(web.store, web.settings, limit)
    href = linker(web.store, user, id_tokens(" ".join(" ".join(r["reasons"]) for r in rows)))
    for r in rows:
        r["reason_parts"] = [link_parts(x, href) for x in r["reasons"]]
    return page(request, "at_risk.html.j2", {"rows": rows})


@router.get("/customers/{customer_id}", include_in_schema=False)
def customer_page(request: Request, customer_id: str, user: PageUser, web: Web):
    c = owner.customer_page(web.store, web.settings, customer_id)
    reasons = (c["risk"] or {}).get("reasons", [])
    chains = [ch["reason"] or "" for ch in c["chains"]]
    href = linker(web.store, user, id_tokens(" ".join(reasons + chains)))
    return page(request, "customer.html.j2", {
        "c": c, "reason_parts": [link_parts(x, href) for x in reasons], "can_open_calls": user.can_review()})


@router.get("/api/customers/at-risk", tags=["customers"])
def api_at_risk(user: ApiUser, web: Web, limit: Limit = 100) -> dict[str, Any]:
    """Customers at risk over the lookback period ending at the latest business date, highest score first."""
    rows = owner.at_risk(web.store, web.settings, limit)
    return {"count": len(rows), "customers": rows}


@router.get("/api/customers/{customer_id}", tags=["customers"])
def api_customer(customer_id: str, user: ApiUser, web: Web) -> dict[str, Any]:
    """One customer's contacts (with `visible_id`), repeat chains and risk, as `voc customers show --json`."""
    return owner.customer_page(web.store, web.settings, customer_id)
