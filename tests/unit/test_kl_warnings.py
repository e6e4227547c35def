"""Server warnings: the apiserver's ``Warning`` header, the client reading it back, and
``kl`` printing each text once on stderr; ``--validate`` values."""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass, field

import pytest

from apiserver.rest import warning_header
from client import core
from kubectl.context import Ctx
from kubectl.fieldvalidation import parse_validate


@dataclass
class Reply:
    status_code: int
    content: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.content.decode()


def test_kubernetes_warning_values_are_parsed() -> None:
    # As kube-apiserver sends them: quotes inside the text escaped, values comma-joined.
    value = (
        '299 - "unknown field \\"spec.containers[0].comand\\"", '
        '299 - "metadata.finalizers: \\"x\\": prefer a domain-qualified finalizer name", '
        '299 kubelab "path \\\\ with backslash" "Sat, 01 Jan 2000 00:00:00 GMT"'
    )
    assert core.parse_warnings(value) == [
        'unknown field "spec.containers[0].comand"',
        'metadata.finalizers: "x": prefer a domain-qualified finalizer name',
        "path \\ with backslash",
    ]
    assert core.parse_warnings("not a warning value") == ["not a warning value"]


def test_the_servers_header_reads_back_as_the_warnings_it_carries() -> None:
    warnings = ['unknown field "spec.a"', 'unknown field "spec.b\\c"', "plain, with a comma"]
    assert core.parse_warnings(warning_header(warnings)) == warnings


def test_decode_reports_warnings_of_success_and_error_replies() -> None:
    seen: list[str] = []
    header = {"warning": warning_header(['unknown field "x"'])}
    core.decode(Reply(201, headers=header), seen.append)
    status = b'{"kind":"Status","code":400,"reason":"BadRequest","message":"no"}'
    with pytest.raises(core.ApiError):
        core.decode(Reply(400, status, header), seen.append)
    assert seen == ['unknown field "x"', 'unknown field "x"']
    core.decode(Reply(200, headers=header))  # no handler: nothing to tell


def test_kl_prints_each_warning_once_on_stderr() -> None:
    err = io.StringIO()
    ctx = Ctx(argparse.Namespace(), stdout=io.StringIO(), stderr=err)
    for text in ('unknown field "a"', 'unknown field "b"', 'unknown field "a"'):
        ctx.warn(text)
    assert err.getvalue() == 'Warning: unknown field "a"\nWarning: unknown field "b"\n'


@pytest.mark.parametrize(
    ("flag", "sent"),
    [("strict", "Strict"), ("true", "Strict"), ("Warn", "Warn"), ("ignore", "Ignore")]
    + [("false", "Ignore")],
)
def test_validate_values_as_kubectl(flag: str, sent: str) -> None:
    assert parse_validate(flag) == sent


def test_unknown_validate_value_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="strict .* warn, ignore"):
        parse_validate("sometimes")
