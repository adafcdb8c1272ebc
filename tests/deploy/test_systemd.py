"""deploy/qunjifen-bot.service passes systemd-analyze verify (where systemd is installed), pointed at this checkout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "qunjifen-bot.service"


def test_the_unit_runs_the_bot_with_its_config_and_keeps_secrets_in_an_env_file() -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/opt/qunjifen-bot/.venv/bin/python /opt/qunjifen-bot/run_bot.py run --config" in text
    assert "EnvironmentFile=-/etc/qunjifen-bot.env" in text and "RestartPreventExitStatus=2 4 7" in text
    assert "TOKEN=" not in text.split("[Unit]")[1]  # no secret in the unit itself


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv in this checkout for ExecStart to point at")
    unit = tmp_path / "qunjifen-bot.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/qunjifen-bot", str(ROOT))
                    .replace("User=qunjifen", "User=root").replace("Group=qunjifen", "Group=root"), encoding="utf-8")
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (res.stdout + res.stderr).splitlines()
                if "qunjifen-bot.service" in line and "postgresql.service" not in line]
    assert res.returncode == 0 or not problems, res.stdout + res.stderr
    assert not problems, problems
