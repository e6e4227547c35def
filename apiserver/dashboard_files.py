"""The dashboard's static files at ``/dashboard/``, on the API's own port.

Only files are served here, to anyone: HTML, script and style, no cluster data. Every
piece of data the dashboard shows is the browser's own API request with the user's
token, so RBAC decides what each user sees exactly as for ``kl``. The files come from a
directory the launcher names (``--dashboard-dir``; ``kubelab`` passes the ``dashboard``
package's), so the apiserver imports no dashboard code.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from api.dashboard import DASHBOARD_PATH

PREFIX = DASHBOARD_PATH

# The page runs only its own script and talks only to this origin: a name or a log line
# that looks like markup can never run, and the token never leaves for another host.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def is_dashboard_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class DashboardFiles:
    """Answers GET/HEAD for ``/dashboard`` and the files below it from ``directory``."""

    def __init__(self, directory: Path) -> None:
        if not (directory / "index.html").is_file():
            raise ValueError(f"{directory} has no index.html: is it the dashboard's static dir?")
        self.files = StaticFiles(directory=str(directory), html=True)

    async def respond(self, request: Request) -> Response:
        path = request.scope["path"]
        if path == PREFIX:
            return RedirectResponse(PREFIX + "/", status_code=308)
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("the dashboard's files are read-only", status_code=405)
        try:
            response = await self.files.get_response(path[len(PREFIX) + 1 :], request.scope)
        except HTTPException as exc:
            response = PlainTextResponse(str(exc.detail), status_code=exc.status_code)
        response.headers.update(SECURITY_HEADERS)
        return response
