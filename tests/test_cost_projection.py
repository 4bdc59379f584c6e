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


# ---- the whole run's projection (hybrid-bench reproduce) -------------------------------------------------------

def test_projection_arithmetic_from_injected_timings() -> None:
    from hybrid_bench.experiment.cost import Projection

    p = Projection(train_steps=600, texts=90_000, s_per_step=2.0, texts_per_s=50.0, cpu="CPU X (avx512-bf16)")
    assert p.seconds == pytest.approx(600 * 2.0 + 90_000 / 50.0)  # 1,200 s + 1,800 s
    line = p.line()
    assert line.startswith("projected wall time of the whole run on this machine: 50 min (")
    assert "training 600 steps × 2.00 s/step = 20 min" in line and "encoding 90,000 texts ÷ 50.0 texts/s = 30 min" in line
    assert "measured on CPU X (avx512-bf16)" in line and "emulated" not in line
    # a rate not measured yet: no figure is invented
    assert Projection(train_steps=600, texts=10, texts_per_s=5.0).seconds is None
    assert "600 steps × (not measured yet)" in Projection(train_steps=600, texts=0).line()
    assert Projection(train_steps=0, texts=100, texts_per_s=10.0).seconds == pytest.approx(10.0)


def test_tracker_says_the_whole_run_once_measured_and_follows_measurements() -> None:
    from hybrid_bench.experiment.cost import CostTracker

    reports: list[tuple[str, float | None]] = []
    now = {"t": 0.0}
    tracker = CostTracker(lambda line, s: reports.append((line, s)), train_steps=900, texts=30_000,
                          clock=lambda: now["t"])
    tracker.encoded(1_000, rate=100.0)  # the first encoded batches (the base is evaluated first)
    assert reports[-1][1] is None and "(not measured yet)" in reports[-1][0] and not tracker.said
    tracker.measured_step(1.5)  # the first training's steps 2-4
    assert tracker.said and reports[-1][1] == pytest.approx(900 * 1.5 + 29_000 / 100.0)
    count = len(reports)
    tracker.encoded(100, rate=90.0)  # within min_interval: kept, not reported
    assert len(reports) == count and tracker.projection.texts_per_s == 90.0
    now["t"] += 10
    tracker.encoded(100, rate=90.0)
    assert reports[-1][1] == pytest.approx(900 * 1.5 + 28_800 / 90.0)
    tracker.trained(300)
    tracker.evaluated(20_000, 400.0)  # a whole stage, scoring included: 50 texts/s from now on
    now["t"] += 10
    tracker.encoded(800, rate=500.0)
    assert tracker.projection.texts_per_s == 50.0
    assert reports[-1][1] == pytest.approx(600 * 1.5 + 28_000 / 50.0)


def test_remaining_work_counts_what_is_left() -> None:
    from hybrid_bench.experiment.cost import remaining_work
    from hybrid_bench.experiment.plan import plan
    from hybrid_bench.experiment.presets import PRESETS

    preset = PRESETS["quick"]
    stages = plan(preset, "me5-small")
    seen: list[list[str]] = []

    def texts_of(tasks):  # noqa: ANN001, ANN202
        seen.append(list(tasks))
        return 1000 * len(tasks)

    trained = {"mono-me5-small-quick"}
    steps, texts = remaining_work(stages, steps=preset.steps, is_trained=lambda spec: spec.name in trained or spec.is_base,
                                  is_evaluated=lambda spec, task: spec.is_base, texts_of=texts_of)
    n_trained = sum(1 for s in stages if s.kind == "train")
    assert steps == (n_trained - 1) * preset.steps
    # every model but the (evaluated) base, once, with all its tasks together (shared passages count once)
    assert len(seen) == len({s.model.name for s in stages if s.kind == "evaluate"}) - 1
    assert all(sorted(tasks) == sorted(preset.tasks) for tasks in seen) and texts == 1000 * len(preset.tasks) * len(seen)


def test_emulated_bf16_is_said_with_the_factor_measured_here() -> None:
    from hybrid_bench.experiment.cost import Projection, measure_bf16_slowdown

    factor = measure_bf16_slowdown(size=64, repeat=2)
    assert factor > 0
    line = Projection(train_steps=10, texts=0, s_per_step=40.0, emulated_factor=14.8).line()
    assert "bf16 training is emulated on this CPU" in line and "measured 14.8x slower than fp32 here" in line


def test_the_printer_prints_the_projection_once_and_keeps_it_in_the_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from hybrid_bench.commands.reproduce import _Printer
    from hybrid_bench.experiment.runner import Event

    printer = _Printer(progress=False)
    printer(Event("cost", "projected wall time of the whole run on this machine: not known yet (...)", total=3))
    printer(Event("cost", "LINE A", wall_s=7200.0, total=3))
    printer(Event("cost", "LINE B", wall_s=3600.0, total=3))
    out = capsys.readouterr().out
    assert out.count("LINE A") == 1 and "LINE B" not in out and "not known yet" not in out
    assert printer.left == "≈ 60 min left"
    printer.bar.close()
