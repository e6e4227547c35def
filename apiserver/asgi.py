"""The ASGI entry point uvicorn serves: API requests go straight to ``ApiServer.dispatch``.

FastAPI/Starlette wrap every request in eight middleware and routing layers (error and
telemetry middleware, body limits, exit stacks, path matching); kubelab routes by hand
and turns every error into a Status itself, so for the methods it serves those layers
only cost time (about a quarter of the server's CPU under a create benchmark). The
lifespan and any other request still go through the FastAPI app.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

SERVED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class DirectDispatch:
    """An ASGI app: HTTP requests with a served method to the server, the rest to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.server = app.state.server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in SERVED_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        response = await self.server.dispatch(request)
        await response(scope, receive, send)
