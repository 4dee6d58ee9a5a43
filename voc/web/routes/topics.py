"""Topics: the list (size, recent volume, routed department) and one topic with its trend chart."""

from typing import Any

from fastapi import APIRouter, Request

from voc.web import views
from voc.web.deps import ApiUser, PageUser, Web, page

__all__ = ["router"]

router = APIRouter()


@router.get("/topics", include_in_schema=False)
def topics_page(request: Request, user: PageUser, web: Web):
    return page(request, "topics.html.j2", {"topics": views.topics(web.store)})


@router.get("/topics/{topic_id}", include_in_schema=False)
def topic_page(request: Request, topic_id: str, user: PageUser, web: Web):
    t = views.topic_detail(web.store, topic_id)
    return page(request, "topic.html.j2", {"t": t, "chart": views.trend_svg_points(t["daily"])})


@router.get("/api/topics", tags=["topics"])
def api_topics(user: ApiUser, web: Web) -> dict[str, Any]:
    return {"topics": views.topics(web.store)}


@router.get("/api/topics/{topic_id}", tags=["topics"])
def api_topic(topic_id: str, user: ApiUser, web: Web) -> dict[str, Any]:
    return views.topic_detail(web.store, topic_id)
