"""client/sync.py is generated from client/aio.py (tools/gen_sync_client.py, unasync):
the committed file is what the tool writes, and ``--check`` (run by ``make lint``) fails
on a hand edit or on an aio.py change not carried over."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_sync_client", ROOT / "tools/gen_sync_client.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_sync_client"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool()


def test_the_committed_sync_client_is_the_generated_one(tool: ModuleType) -> None:
    assert (ROOT / "client/sync.py").read_text() == tool.generate()
    assert tool.main(["--check"]) == 0


def test_check_fails_on_a_hand_edit_and_on_a_change_to_the_source(
    tool: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "sync.py"
    target.write_text(tool.generate().replace("def list_all(", "def list_everything("))
    monkeypatch.setattr(tool, "TARGET", target)
    assert tool.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err

    source = tmp_path / "aio.py"
    source.write_text(
        (ROOT / "client/aio.py").read_text().replace('"""GET one object', '"""GET it')
    )
    target.write_text((ROOT / "client/sync.py").read_text())
    monkeypatch.setattr(tool, "SOURCE", source)
    assert tool.main(["--check"]) == 1
    assert tool.main([]) == 0 and tool.main(["--check"]) == 0  # written: up to date again
    assert '"""GET it' in target.read_text()


def test_the_rewrite_is_the_sync_spelling(tool: ModuleType) -> None:
    code = tool.generate()
    body = code.split('"""', 2)[2]  # after the header, which names the source
    for gone in ("async ", "await ", "asyncio", "AsyncClient", "aclose", "aiter_", "Http1Pool"):
        assert gone not in body, gone
    for there in ("class Client:", "def __enter__(", "time.sleep(", "SyncTransport(", "yield from"):
        assert there in code, there
