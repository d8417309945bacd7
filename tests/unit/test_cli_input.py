"""Bad input gives one readable line and exit 2, never a traceback."""
import json

import pytest

from agents.aws_ecs_service.interfaces.cli import main, parse_since


@pytest.mark.parametrize("argv, needle", [
    (["triage", "--cluster", "prod", "--service", "api", "--since", "yesterday"], "--since"),
    (["triage", "--cluster", "prod", "--service", "api", "--since", "0m"], "--since"),
    (["triage", "--cluster", "prod", "--service", "api", "--since", "30d"], "at most 14d"),
    (["triage", "--cluster", "prod cluster", "--service", "api"], "--cluster"),
    (["triage", "--cluster", "prod", "--service", "api;rm -rf /"], "--service"),
    (["triage", "--cluster", "", "--service", "api"], "--cluster"),
])
def test_bad_triage_arguments(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


def test_since_parsing():
    assert parse_since("90m").total_seconds() == 5400
    assert parse_since("2h").total_seconds() == 7200
    assert parse_since("1d").total_seconds() == 86400


def test_replay_missing_file(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["not json", json.dumps({"schema": "something-else"}), json.dumps([1, 2])])
def test_replay_rejects_non_evidence(tmp_path, capsys, content):
    path = tmp_path / "evidence.json"
    path.write_text(content)
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert "evidence" in err and "Traceback" not in err
    assert not (tmp_path / "replay").exists()
