"""`kubelab up --service-cidr`: remembered in HOME/up.json and handed to the apiserver."""

from __future__ import annotations

from pathlib import Path

from kubelab.up import build_parser, plan_apiserver, resolve_settings, save_settings


def test_the_service_cidr_reaches_the_apiserver_and_is_remembered(tmp_path: Path) -> None:
    settings = resolve_settings(build_parser().parse_args([]), tmp_path)
    assert settings["service_cidr"] == "10.43.0.0/16"
    args = plan_apiserver(tmp_path, settings)
    assert args[args.index("--service-cidr") + 1] == "10.43.0.0/16"
    given = resolve_settings(
        build_parser().parse_args(["--service-cidr", "10.96.0.0/12"]), tmp_path
    )
    save_settings(tmp_path, given)
    # A bare rerun resumes the same range: ClusterIPs already given stay valid.
    again = resolve_settings(build_parser().parse_args([]), tmp_path)
    args = plan_apiserver(tmp_path, again)
    assert args[args.index("--service-cidr") + 1] == "10.96.0.0/12"
    assert args[:2] == ["apiserver", "--home"]


def test_a_bad_service_cidr_is_one_readable_line(capsys: object, tmp_path: Path) -> None:
    import pytest

    from apiserver.main import main

    with pytest.raises(SystemExit) as exc:
        main(["--home", str(tmp_path), "--service-cidr", "10.0.0.0/8"])
    assert exc.value.code == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert (
        "--service-cidr 10.0.0.0/8" in err and "/12 and /28" in err and "e.g. 10.43.0.0/16" in err
    )
    assert "Traceback" not in err
