"""Running the web app: in the foreground (`voc serve`) or in a background thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from voc.config import Settings
from voc.store import Store


def serve(settings: Settings, host: str | None = None, port: int | None = None, *, log_level: str = "info") -> None:
    """Serve until interrupted (Ctrl-C)."""
    import uvicorn

    from voc.web.app import create_app

    uvicorn.run(create_app(settings), host=host or settings.web.host, port=port or settings.web.port,
                log_level=log_level, proxy_headers=False, server_header=False)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BackgroundServer:
    """A uvicorn server on a thread: ``with BackgroundServer(settings, store) as srv: srv.url``."""

    def __init__(self, settings: Settings, store: Store | None = None, *, host: str = "127.0.0.1",
                 port: int | None = None, app: Any = None) -> None:
        import uvicorn

        from voc.web.app import create_app

        self.host, self.port = host, port or free_port(host)
        self.app = app or create_app(settings, store)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning",
                                                    lifespan="on", server_header=False))
        self.thread = threading.Thread(target=self.server.run, name="voc-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start on {self.url}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def asgi_app():
    """App factory for other ASGI servers, settings from voc.yaml / VOC_* as usual:
    ``uvicorn --factory voc.web.server:asgi_app --workers 4`` (set web.secret_key so workers share sessions)."""
    from voc.config import load_settings
    from voc.web.app import create_app

    return create_app(load_settings())
