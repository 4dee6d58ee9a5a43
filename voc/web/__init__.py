"""The QA reviewer and topic web app (`voc serve`): FastAPI, server-rendered pages, a JSON API.

Importing this package is cheap; FastAPI is imported only by :func:`create_app` (the ``web`` extra).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any):
    """Build the ASGI app; see :func:`voc.web.app.create_app`."""
    from voc.web.app import create_app as _create

    return _create(*args, **kwargs)
