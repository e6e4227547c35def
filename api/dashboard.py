"""Where the web dashboard lives: one path on the API's own port (apiserver, kl, kubelab up)."""

from __future__ import annotations

from urllib.parse import quote

DASHBOARD_PATH = "/dashboard"


def dashboard_url(server: str, token: str = "", namespace: str = "") -> str:
    """The dashboard's URL on API server ``server``; with ``token``, a link that signs in.

    The token goes in the fragment (``#token=``), which a browser never sends to a server,
    so it reaches no access log; the page moves it to the tab's session storage and wipes
    it from the address bar.
    """
    url = server.rstrip("/") + DASHBOARD_PATH + "/"
    if token:
        url += "#token=" + quote(token, safe="")
        if namespace:
            url += "&ns=" + quote(namespace, safe="")
    return url
