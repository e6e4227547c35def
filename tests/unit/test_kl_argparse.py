"""kl's argument parsing: every verb documented with an example, global flags anywhere,
usage errors as one line with exit code 1 (no server needed)."""

from __future__ import annotations

import pytest

from kubectl.main import VERB_NAMES, build_parser, main

SUBVERBS = [
    ["rollout", "status"],
    ["rollout", "history"],
    ["rollout", "undo"],
    ["rollout", "restart"],
    ["rollout", "pause"],
    ["rollout", "resume"],
    ["top", "nodes"],
    ["top", "gpus"],
    ["top", "pods"],
    ["top", "queues"],
    ["config", "view"],
    ["config", "use-context"],
    ["config", "get-contexts"],
    ["set", "image"],
    ["create", "namespace"],
    ["create", "deployment"],
    ["create", "job"],
]


@pytest.mark.parametrize("words", [[v] for v in VERB_NAMES] + SUBVERBS)
def test_every_verb_has_help_with_an_example(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*words, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example" in out and "kl " in out.split("example", 1)[1]


def test_global_flags_before_and_after_the_verb() -> None:
    p = build_parser()
    a = p.parse_args(["-n", "team", "get", "pods"])
    assert a.namespace == "team" and a.targets == ["pods"]
    b = p.parse_args(["get", "pods", "-n", "team", "--context", "lab", "-A"])
    assert b.namespace == "team" and b.context == "lab" and b.all_namespaces
    c = p.parse_args(["--kubeconfig", "/k", "rollout", "status", "deploy/web", "--timeout", "5"])
    assert c.kubeconfig == "/k" and c.timeout == 5 and c.watch is True
    d = p.parse_args(["delete", "pod", "x", "--wait=false", "--cascade", "orphan"])
    assert d.wait is False and d.cascade == "orphan"


def test_usage_errors_are_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "pods", "--bogus"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unrecognized arguments: --bogus") and err.count("\n") == 1
    assert main(["frobnicate"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_unknown_kind_asks_discovery_and_bad_output_fails_before_any_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A name kl does not know may be a custom kind: as kubectl, it asks the server's
    # discovery first, so an unreachable server is what it reports (one line).
    assert main(["get", "widgets", "--server", "https://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach" in err
    # --server points nowhere: a bad -o must fail on its own, not with "cannot reach".
    assert main(["get", "pods", "-o", "xml", "--server", "https://127.0.0.1:1"]) == 1
    assert "unable to match a printer" in capsys.readouterr().err


def test_unreachable_server_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "pods", "--server", "https://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach" in err and "kubelab up" in err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "pods", "--server", "https://127.0.0.1:1", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_completion_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    bash = capsys.readouterr().out
    assert "complete -F _kl_complete kl" in bash and " rollout " in bash and " deploy " in bash
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("#compdef kl")
