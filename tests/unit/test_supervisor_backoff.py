"""The waits `up` puts between restarts of a part that keeps exiting."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.supervisor import BACKOFF_SECONDS, MAX_QUICK_EXITS, Part, Supervisor


def waits(tmp_path: Path) -> list[float]:
    sup = Supervisor(data_dir=tmp_path)
    (tmp_path / "logs").mkdir(exist_ok=True)
    part = Part(name="enterprises", state="running")
    out = []
    for _ in range(MAX_QUICK_EXITS):
        part.started_mono = 100.0
        sup._exited(part, "killed by SIGKILL", 101.0)
        if part.state == "gave up":
            break
        out.append(round(part.next_start - 101.0, 6))
    assert part.state == "gave up"
    return out


def test_a_part_that_keeps_exiting_waits_longer_each_time_then_is_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLANTRACK_RESTART_BACKOFF_SCALE", raising=False)
    assert waits(tmp_path) == [0.5, 1.0, 2.0, 4.0] == list(BACKOFF_SECONDS[:4])


def test_the_backoff_scale_shortens_every_wait_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTRACK_RESTART_BACKOFF_SCALE", "0.1")
    assert waits(tmp_path) == [0.05, 0.1, 0.2, 0.4]
