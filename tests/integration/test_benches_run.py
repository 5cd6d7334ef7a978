"""Benchmarks run from a checkout as the README says (a small size, the real parts)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_rollup_bench_runs_and_prints_both_rates() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rollup.py"), "--events", "3000"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT.parent,  # not the checkout: the bench finds its own modules
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"raw nats-py fetch\+ack\s+[\d,]+ events/s", run.stdout), run.stdout
    assert re.search(r"live roll-up\s+[\d,]+ events/s\s+= [\d.]+ × raw", run.stdout), run.stdout
