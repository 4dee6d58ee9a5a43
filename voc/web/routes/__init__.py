"""The web app's routers, one per page group, each with its pages and its part of the JSON API."""

from voc.web.routes import auth, calls, customers, digests, findings, queue, runs, topics

__all__ = ["ROUTERS"]

# In this order the API paths appear in /openapi.json as they always have (me, queue, calls, topics, runs, digests),
# then findings and customers.
ROUTERS = (auth.router, queue.router, calls.router, topics.router, runs.router, digests.router, findings.router,
           customers.router)
