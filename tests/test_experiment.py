"""The experiment package's pure parts: presets read from TOML, the plan, the ledger, the CLI's event printer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from hybrid_bench.errors import DataError
from hybrid_bench.experiment import PRESETS, Event, Ledger, Preset, Stage, model_specs, plan, train_config
from hybrid_bench.experiment.plan import training_seeds
from hybrid_bench.experiment.presets import read_presets


def test_stock_presets_come_from_the_toml_file() -> None:
    assert set(PRESETS) == {"quick", "full"}
    quick, full = PRESETS["quick"], PRESETS["full"]
    assert (quick.steps, quick.batch_size, quick.languages, quick.miracl_fill) == (6, 16, ("de", "en", "es"), 20)
    # the full preset evaluates MIRACL on the whole mirror: no query sample, no passage fill
    assert (full.steps, full.languages, full.miracl_queries, full.miracl_fill) == (300, None, None, None)
    assert not full.samples_miracl
    assert full.model_suffix == "" and quick.model_suffix == "-quick"
    # a missing key takes the dataclass default
    assert full.seed == Preset(name="x", steps=1).seed


@pytest.mark.parametrize(("body", "message"), [
    ("[p]\nsteps = 3\nlangs = ['de']\n", "unknown key"),
    ("[p]\nbatch_size = 3\n", "`steps` is required"),
    ("[p]\nsteps = 'many'\n", "positive integer"),
    ("[p]\nsteps = 2\nlanguages = 'de'\n", "list of strings"),
    ("[p]\nsteps = 2\ntasks = ['NoSuchTask']\n", "unknown task"),
    ("[p\n", "not valid TOML"),
])
def test_bad_preset_files_get_one_clear_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "presets.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        read_presets(path)
    assert str(path) in str(err.value)


def test_plan_finishes_each_model_before_the_next_then_builds_the_leaderboard() -> None:
    preset = dataclasses.replace(PRESETS["quick"], tasks=("MLQARRetrieval", "MIRACLRetrieval"))
    stages = plan(preset, "me5-small", alpha_sweep=True)
    kinds = [s.kind for s in stages]
    # the base's evaluations, then per model: train → its evaluations (a run cut short leaves finished models)
    assert kinds == ["evaluate"] * 2 + ["train", "evaluate", "evaluate"] * 5 + ["leaderboard"]
    assert [s.model.resolved_alpha for s in stages if s.kind == "train"] == [1.0, 0.0, 0.5, 0.25, 0.75]
    assert stages[0] == Stage("evaluate", stages[0].model, "MLQARRetrieval") and stages[0].model.is_base
    assert stages[2].label == "train mono-me5-small-quick (α=1)"
    assert [s.label for s in stages[3:5]] == ["evaluate mono-me5-small-quick on MLQARRetrieval",
                                             "evaluate mono-me5-small-quick on MIRACLRetrieval"]
    assert plan(preset, "me5-small", alpha_sweep=True) == stages  # pure: same inputs, same plan


def test_seeds_train_every_strategy_with_the_same_seeds_and_settings() -> None:
    full = PRESETS["full"]
    assert full.seeds == 3 and training_seeds(full) == [42, 43, 44]
    specs = [s for s in model_specs(full, "me5-small", alpha_sweep=True) if not s.is_base]
    assert len(specs) == 5 * 3  # α ∈ {1, 0, 0.5, 0.25, 0.75} × 3 seeds
    names = {(s.strategy, s.resolved_alpha, s.seed): s.name for s in specs}
    # the first seed keeps the model-table names (and reuses models trained before seeds existed)
    assert names[("hybrid", 0.5, 42)] == "hybrid-me5-small" and names[("hybrid", 0.5, 43)] == "hybrid-me5-small-seed43"
    assert names[("hybrid", 0.25, 44)] == "hybrid-me5-small-a0.25-seed44" and names[("mono", 1.0, 43)] == "mono-me5-small-seed43"
    assert len(set(names.values())) == len(specs)
    configs = [train_config(full, "me5-small", s).to_dict() for s in specs]
    assert sorted({c["seed"] for c in configs}) == [42, 43, 44]
    same = [{k: v for k, v in c.items() if k not in ("strategy", "alpha", "seed")} for c in configs]
    assert all(c == same[0] for c in same)  # same data, steps, batch size, everything else
    stages = plan(dataclasses.replace(full, seeds=2), "me5-small")
    assert [s.model.seed for s in stages if s.kind == "train"] == [42, 42, 42, 43, 43, 43]
    # seed-major, each model evaluated before the next is trained
    assert [(s.kind, s.model.name) for s in stages if s.kind != "leaderboard" and not s.model.is_base][:6] == [
        ("train", "mono-me5-small"), *[("evaluate", "mono-me5-small")] * len(full.tasks), ("train", "cross-me5-small")]
    assert dataclasses.replace(full, seeds=1).describe().count("seed 42") == 1 and "3 training seeds 42–44" in full.describe()


def test_a_replication_with_new_seeds_never_reuses_the_first_runs_models() -> None:
    full = PRESETS["full"]
    replication = dataclasses.replace(full, first_seed=45, seeds=5)
    assert training_seeds(replication) == [45, 46, 47, 48, 49]
    names = {s.name for s in model_specs(replication, "me5-small") if not s.is_base}
    first_run = {s.name for s in model_specs(full, "me5-small") if not s.is_base}
    assert not names & first_run and "mono-me5-small-seed45" in names and "hybrid-me5-small-seed49" in names
    # the recipe is the first run's but for the seed: same data, steps, batch size, precision
    spec = next(s for s in model_specs(replication, "me5-small") if s.name == "hybrid-me5-small-seed45")
    again, first = train_config(replication, "me5-small", spec).to_dict(), train_config(full, "me5-small", spec).to_dict()
    assert again == first and again["seed"] == 45
    assert "5 training seeds 45–49" in replication.describe()
    # an evaluation's settings do not depend on which seeds are trained
    assert replication.eval_settings() == full.eval_settings()


def test_reproduce_first_seed_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from hybrid_bench.cli import main

    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    assert "--first-seed S" in capsys.readouterr().out


def test_ledger_is_rewritten_whole_and_rejects_foreign_files(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "state.json")
    assert not ledger.done("k")
    ledger.mark("k", wall_s=1.5)
    again = Ledger(tmp_path / "state.json")
    assert again.done("k") and again.info("k") == {"wall_s": 1.5}
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        Ledger(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text(json.dumps([1]), encoding="utf-8")
    with pytest.raises(DataError, match="not a reproduce ledger"):
        Ledger(tmp_path / "list.json")


def test_cli_prints_notes_and_one_line_per_stage(capsys: pytest.CaptureFixture[str]) -> None:
    from hybrid_bench.commands.reproduce import _Printer

    stages = plan(dataclasses.replace(PRESETS["quick"], tasks=("MLQARRetrieval",)), "me5-small")
    printer = _Printer(progress=False)
    printer(Event("note", "preset text"))
    for i, stage in enumerate(stages, 1):
        printer(Event("begin", stage=stage, index=i, total=len(stages)))
        printer(Event("end", stage=stage, index=i, total=len(stages), wall_s=2.0, skipped=i == 1))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "preset text"
    assert out[1] == f"[1/{len(stages)}] evaluate me5-small on MLQARRetrieval: already done, skipped"
    assert out[-1] == f"[{len(stages)}/{len(stages)}] leaderboard: 2 s"
    assert printer.bar is None  # closed after the last stage


def test_a_stale_interrupted_run_is_restarted_only_when_nothing_is_lost(tmp_path: Path) -> None:
    from hybrid_bench.errors import HybridBenchError
    from hybrid_bench.training.records import RUN_CONFIG, stale_run, write_run_record

    ckpt = tmp_path / "ckpt"
    assert stale_run(ckpt, {"steps": 6}) is False  # no earlier run
    ckpt.mkdir()
    (ckpt / RUN_CONFIG).write_text(json.dumps({"steps": 6}), encoding="utf-8")
    assert stale_run(ckpt, {"steps": 6}) is False  # the same settings: resume it
    (ckpt / "checkpoint-2").mkdir()  # killed while writing its first checkpoint
    assert stale_run(ckpt, {"steps": 9}) is True  # other settings, nothing complete: start over
    write_run_record(ckpt / "checkpoint-2", 2, 1.0)
    with pytest.raises(HybridBenchError, match="other settings"):
        stale_run(ckpt, {"steps": 9})  # complete checkpoints of other settings are never discarded
