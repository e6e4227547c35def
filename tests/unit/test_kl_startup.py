"""`kl` starts fast because `kl get pods` loads only what it uses: the `get` verb (not
every verb's printers and manifests), the kubeconfig, the blocking HTTP/1.1 pool. These
tests guard the import budget, not a time (speed is `make bench`'s `cli` line): a new
top-level import of a heavy module on this path fails here, naming it."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kubectl.main import VERB_MODULES, VERBS, verb_in
from tests.harness import REPO

# Modules `kl get pods` must not load: each costs tens of milliseconds, or pulls in a
# library kl has no use for on this path.
HEAVY = (
    "httpx",  # the sync client's ordinary requests go through client.blocking
    "httpcore",
    "asyncio",  # the async client, informers, work queue
    "client.informer",
    "client.reflector",  # watches only
    "pydantic",  # api.models: kl prints the API's dicts, never builds models
    "api.models",
    "sqlalchemy",
    "fastapi",
    "apiserver",
    "urllib.request",  # only with a proxy in the environment
    "kubectl.manifests",  # apply/create/delete only
    "kubectl.describing",
)


class _Pods(http.server.BaseHTTPRequestHandler):
    """Answers a pod list, as an apiserver does; the subject here is kl's imports."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        pod = {"metadata": {"name": "web-0", "namespace": "default"}, "status": {}}
        body = json.dumps(
            {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [pod]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def pods_server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pods)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


PROBE = """
import sys
from kubectl.main import main
rc = main(sys.argv[1:])
print("MODULES", " ".join(sorted(sys.modules)))
sys.exit(rc)
"""


def loaded_by(*argv: str) -> tuple[str, set[str]]:
    """Run kl ARGV in a fresh interpreter: its output and every module it loaded."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(REPO)
    env.pop("KUBECONFIG", None)
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=str(REPO),
    )
    assert r.returncode == 0, r.stderr
    out, _, mods = r.stdout.rpartition("MODULES ")
    return out, set(mods.split())


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_kl_get_pods_loads_none_of_the_heavy_modules() -> None:
    with pods_server() as url:
        out, modules = loaded_by("get", "pods", "--server", url)
    assert "web-0" in out  # the request was made and printed
    assert heavy_in(modules) == []
    others = {f"kubectl.cmd.{m}" for m in VERB_MODULES} - {"kubectl.cmd.get"}
    assert sorted(modules & others) == []  # only the verb typed is imported


def test_the_verb_is_found_past_global_flags_and_their_values() -> None:
    assert verb_in(["get", "pods"]) == "get"
    assert verb_in(["-n", "team", "--context", "lab", "get", "pods"]) == "get"
    assert verb_in(["--kubeconfig=/k", "-A", "rollout", "status", "x"]) == "rollout"
    assert verb_in(["--token", "get", "logs"]) == "logs"  # "get" is the token's value
    assert verb_in(["--debug"]) is None and verb_in([]) is None


def test_every_verb_is_registered_by_the_module_named_for_it() -> None:
    from kubectl.main import build_parser

    for verb, module in VERBS.items():
        p = build_parser(verb)
        sub = next(a for a in p._actions if a.dest == "==SUPPRESS==" or a.choices)
        assert verb in (sub.choices or {}), (verb, module)
