"""Write client/sync.py (the blocking ``Client``) from client/aio.py (``AsyncClient``).

httpcore's way of keeping a sync and an async API from drifting: one source, the async
one, and the sync one generated from it by unasync's token rewrite (``async``/``await``
dropped, ``AsyncIterator`` -> ``Iterator``, ``__aenter__`` -> ``__enter__``, ``Async*`` ->
``Sync*``), plus the names below. The I/O that really differs lives in the two
transports (``client.aio_transport.AsyncTransport``, ``client.transport.SyncTransport``),
so the rewrite stays mechanical. A line of client/aio.py ending in ``# async only`` is
left out of the sync file (``aclose = close``). The output is sorted and formatted with
ruff, so it passes ``make lint`` as written.

    python tools/gen_sync_client.py          # rewrite client/sync.py
    python tools/gen_sync_client.py --check  # exit 1 if client/sync.py is not up to date

The generated file is committed, so nothing at run time needs unasync.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "client" / "aio.py"
TARGET = ROOT / "client" / "sync.py"

# Names unasync does not know, as the sync client spells them.
REPLACEMENTS = {
    "AsyncClient": "Client",
    "aio_transport": "transport",  # client.aio_transport -> client.transport
    "asyncio": "time",  # client/aio.py uses asyncio only for asyncio.sleep
    "aclosing": "closing",
    "aclose": "close",
    "aread": "read",
    "aiter_bytes": "iter_bytes",
    "aiter_lines": "iter_lines",
}

ASYNC_ONLY = "# async only"

HEADER = '''"""The blocking client: the verbs of ``client.aio.AsyncClient``, not awaited, over
``client.transport.SyncTransport`` (thread-safe).

GENERATED from client/aio.py by tools/gen_sync_client.py: do not edit it by hand; edit
client/aio.py and run the tool (``make lint`` fails when this file differs from its output).
"""
'''


def _without_docstring(source: str) -> str:
    """The source after its module docstring (the sync file gets its own)."""
    if not source.startswith('"""'):
        raise SystemExit(f"{SOURCE}: expected a module docstring first")
    end = source.index('"""', 3) + 3
    return source[end:].lstrip("\n")


def _unasync(source: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "_async" / "aio.py"
        src.parent.mkdir()
        src.write_text(source)
        rule = unasync.Rule("/_async/", "/_sync/", additional_replacements=REPLACEMENTS)
        unasync.unasync_files([str(src)], [rule])
        return (Path(tmp) / "_sync" / "aio.py").read_text()


def _ruff(args: list[str], code: str) -> str:
    """``code`` through ``ruff ARGS -`` (as client/sync.py, so the project's settings hold)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(TARGET), "-"],
        input=code,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruff {' '.join(args)} failed on the generated client:\n{done.stderr}")
    return done.stdout


def generate() -> str:
    """The text client/sync.py must have."""
    source = SOURCE.read_text()
    kept = "".join(
        line for line in source.splitlines(keepends=True) if not line.rstrip().endswith(ASYNC_ONLY)
    )
    code = HEADER + "\n" + _unasync(_without_docstring(kept))
    # Import order changes with the names (asyncio -> time), and a loop that yields each
    # item (async generators have no ``yield from``) becomes ``yield from``: ruff's fixes,
    # then its format.
    fixes = ["--select", "I,UP028", "--fix", "--unsafe-fixes", "--quiet", "--exit-zero"]
    code = _ruff(["check", *fixes], code)
    return _ruff(["format", "--quiet"], code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if client/sync.py is not what would be written"
    )
    args = parser.parse_args(argv)
    wanted = generate()
    current = TARGET.read_text() if TARGET.exists() else ""
    if args.check:
        if current == wanted:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            "client/sync.py (committed)",
            "client/sync.py (generated from client/aio.py)",
        )
        sys.stderr.write("".join(list(diff)[:60]))
        sys.stderr.write(
            "client/sync.py is out of date with client/aio.py: "
            "run `python tools/gen_sync_client.py` (never edit client/sync.py by hand)\n"
        )
        return 1
    if current != wanted:
        TARGET.write_text(wanted)
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
