"""The training's cost projection: measured from its first steps, said once, emulated bf16 named."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from hybrid_bench.training import callbacks
from hybrid_bench.training.callbacks import CostProjectionCallback


def _run(callback: CostProjectionCallback, monkeypatch: pytest.MonkeyPatch, step_seconds: float,
         max_steps: int = 300) -> None:
    clock = {"now": 0.0}
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: clock["now"])
    args = SimpleNamespace(device=SimpleNamespace(type="cpu"))
    for step in range(1, 8):
        clock["now"] += 30.0 if step == 1 else step_seconds  # the first step pays for warm-up
        state = SimpleNamespace(global_step=step, max_steps=max_steps, is_world_process_zero=True)
        callback.on_step_end(args, state, None)


def test_projection_from_the_timed_steps_said_once(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("hybrid_bench.machine.cpu_kind", lambda flags=None: "avx512-bf16")
    callback = CostProjectionCallback(measure=3, bf16=True)
    with caplog.at_level(logging.WARNING, logger="hybrid_bench"):
        _run(callback, monkeypatch, step_seconds=2.0)
    lines = [r.getMessage() for r in caplog.records if "projected" in r.getMessage()]
    assert len(lines) == 1 and "2.00 s/step" in lines[0] and "emulated" not in lines[0]
    assert "projected 9.9 min more for the remaining 296 of 300 steps" in lines[0]
    # steps 2-4 timed (2 s each, the 30 s warm-up step left out): 296 steps remain
    assert callback.projection_s == pytest.approx(296 * 2.0)


def test_emulated_bf16_is_named(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("hybrid_bench.machine.cpu_kind", lambda flags=None: "no-bf16")
    with caplog.at_level(logging.WARNING, logger="hybrid_bench"):
        _run(CostProjectionCallback(bf16=True), monkeypatch, step_seconds=40.0)
    assert any("bf16 emulated" in r.getMessage() for r in caplog.records)
