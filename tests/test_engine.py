"""``reproduce`` on a distributed engine: submitit's local executor, two jobs at once, a killed job rerun.

The end-to-end test runs the tiny preset (tiny base model, real data, one task) with ``SubmititEngine(cluster=
"local", max_jobs=2)``: every training and evaluation is a job of its own process; the job of one training is
killed (SIGKILL) as soon as it starts. The run must finish every stage that does not need that training, say which
did not finish, and leave no half-written ledger; rerunning the same command must run exactly the killed training
and the evaluation that waited for it, then build the leaderboard of all four models.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import time
import types
from pathlib import Path

import pytest
from test_reproduce import TINY

from hybrid_bench.errors import DataError, HybridBenchError
from hybrid_bench.experiment import PRESETS, plan, reproduce
from hybrid_bench.experiment.engines import SubmititEngine
from hybrid_bench.experiment.ledger import LEDGER_FILE, MARKS_DIR, Ledger
from hybrid_bench.experiment.plan import dependencies
from hybrid_bench.experiment.stages import Outcome

PRESET = dataclasses.replace(TINY, tasks=("XQuADRHeldOutRetrieval",))
ROOT = Path(__file__).resolve().parent.parent


def test_the_plan_says_what_each_stage_waits_for() -> None:
    stages = plan(dataclasses.replace(PRESETS["quick"], tasks=("MLQARRetrieval", "MIRACLRetrieval")), "me5-small")
    needs = dependencies(stages)
    by_label = {stage.label: i for i, stage in enumerate(stages)}
    train = by_label["train hybrid-me5-small-quick (α=0.5)"]
    assert needs[by_label["evaluate hybrid-me5-small-quick on MIRACLRetrieval"]] == {train}
    assert needs[train] == set() and needs[by_label["evaluate me5-small on MLQARRetrieval"]] == set()
    assert needs[len(stages) - 1] == set(range(len(stages) - 1))  # the leaderboard after every other stage


def test_jobs_write_marks_of_their_own_and_the_coordinator_merges_them(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / LEDGER_FILE)
    ledger.mark("eval|a", wall_s=1.0)
    job = Ledger(tmp_path / LEDGER_FILE, own_marks=True)
    job.mark("eval|b", wall_s=2.0)
    other = Ledger(tmp_path / LEDGER_FILE, own_marks=True)
    other.mark("eval|c", wall_s=3.0)
    # a job never rewrites the shared ledger; what it marked is a file of its own, seen by later jobs
    assert set(json.loads((tmp_path / LEDGER_FILE).read_text())["done"]) == {"eval|a"}
    assert len(list((tmp_path / MARKS_DIR).glob("*.json"))) == 2
    assert Ledger(tmp_path / LEDGER_FILE, own_marks=True).done("eval|b")
    assert ledger.merge_marks() == 2 and ledger.info("eval|c") == {"wall_s": 3.0}
    assert set(json.loads((tmp_path / LEDGER_FILE).read_text())["done"]) == {"eval|a", "eval|b", "eval|c"}
    assert not list((tmp_path / MARKS_DIR).glob("*.json"))
    # marks left by jobs that ended after their coordinator are merged when the ledger is next opened
    Ledger(tmp_path / LEDGER_FILE, own_marks=True).mark("eval|d", wall_s=4.0)
    assert Ledger(tmp_path / LEDGER_FILE).done("eval|d") and not list((tmp_path / MARKS_DIR).glob("*.json"))
    (tmp_path / MARKS_DIR / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match="broken.json"):
        Ledger(tmp_path / LEDGER_FILE)


def test_engine_options_are_checked_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hybrid_bench.cli import main

    assert main(["reproduce", "--quick", "--output-folder", str(tmp_path / "r"), "--slurm-partition", "gpu"]) != 0
    assert "--slurm-partition: options of --engine submitit" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    assert "--engine {local,submitit}" in capsys.readouterr().out
    with pytest.raises(HybridBenchError, match="engine cluster 'pbs'"):
        SubmititEngine(tmp_path / "jobs", cluster="pbs")


class _Job:
    """A stand-in for a cluster's job in the scheduling test: done after ``polls`` looks, then its outcome."""

    def __init__(self, job_id: str, stage, fails: bool, log: list) -> None:
        self.job_id, self.stage, self.fails, self.log, self.polls = job_id, stage, fails, log, 2
        self.paths = types.SimpleNamespace(stderr=f"/logs/{job_id}.err")

    def done(self) -> bool:
        self.polls -= 1
        if self.polls == 0:
            self.log.append(("end", self.stage.label))
        return self.polls <= 0

    def result(self) -> Outcome:
        if self.fails:
            raise RuntimeError(f"Job {self.job_id} has not produced any output (state: INTERRUPTED)")
        return Outcome(True, identity=("hybrid-bench/x", "local-1") if self.stage.kind == "train" else None)


def test_the_engine_keeps_the_order_the_job_limit_and_stops_what_waits_for_a_failed_job(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The coordinator's scheduling, with stand-in jobs (real jobs: the end-to-end test below)."""
    from hybrid_bench.experiment import engines
    from hybrid_bench.experiment.stages import StageContext

    stages = plan(dataclasses.replace(PRESETS["quick"], tasks=("MLQARRetrieval", "MIRACLRetrieval")), "me5-small")
    failing = "train cross-me5-small-quick (α=0)"
    log: list = []

    class Executor:
        def update_parameters(self, **_: object) -> None: ...

        def submit(self, function, spec, stage):
            assert function is engines.run_stage_job
            log.append(("begin", stage.label))
            return _Job(str(len(log)), stage, stage.label == failing, log)

    monkeypatch.setattr(engines, "has_work", lambda ctx, stage: True)
    monkeypatch.setattr(engines, "run_stage", lambda ctx, stage: pytest.fail(f"{stage.label} ran here"))
    engine = SubmititEngine(tmp_path / "jobs", cluster="local", max_jobs=2, poll_s=0)
    engine.executor = Executor()
    ctx = StageContext(None, Ledger(tmp_path / LEDGER_FILE), lambda event: None)  # type: ignore[arg-type]
    ended: dict[str, str] = {}
    expected = (rf"4 of 12 stage\(s\) did not finish \({re.escape(failing)}: job \d+ failed "
                r"\(Job \d+ has not produced any output .*\); log: /logs/")
    with pytest.raises(HybridBenchError, match=expected):
        engine.execute(ctx, stages, lambda position, job: None,
                       lambda position, outcome, wall, why: ended.update({stages[position - 1].label: why}))
    running, most = set(), 0
    for what, label in log:
        running.add(label) if what == "begin" else running.discard(label)
        most = max(most, len(running))
    assert most == 2
    begun = [label for what, label in log if what == "begin"]
    for label in begun:  # an evaluation starts only after its model's training ended
        if label.startswith("evaluate") and "-quick" in label:
            name = label.split()[1]
            training = next(i for i, (w, l) in enumerate(log) if w == "end" and l.startswith(f"train {name} "))
            assert training < log.index(("begin", label))
    assert not [label for label in begun if label.startswith("evaluate cross")]
    assert ended["evaluate cross-me5-small-quick on MIRACLRetrieval"] == f"not run: {failing} did not finish"
    assert ended["leaderboard"].startswith("not run:")
    assert sum(not why for why in ended.values()) == 8  # every stage that does not need the failed one
    assert ctx.identities["hybrid-me5-small-quick"] == ("hybrid-bench/x", "local-1")  # handed back by its job


def test_a_failed_job_is_reported_by_the_error_that_ended_it(tmp_path: Path) -> None:
    from hybrid_bench.experiment.stages import StageContext

    engine = SubmititEngine(tmp_path / "jobs", cluster="local", timeout_min=1)
    job = engine.executor.submit(int, "not a number")  # a real job process whose function raises
    stage = plan(PRESETS["quick"], "me5-small")[0]
    ctx = StageContext(None, Ledger(tmp_path / LEDGER_FILE), lambda event: None)  # type: ignore[arg-type]
    outcome, why = engine._collect(ctx, stage, job)
    assert outcome is None
    assert f"job {job.job_id} failed (ValueError: invalid literal for int() with base 10: 'not a number')" in why
    assert why.endswith(f"log: {job.paths.stderr}")


def _kill_job(job: str) -> None:
    """SIGKILL a local submitit job: its controller (the job id is its pid) and the process running the stage."""
    import psutil

    controller = psutil.Process(int(job))
    deadline = time.monotonic() + 60
    while not controller.children(recursive=True) and time.monotonic() < deadline:
        time.sleep(0.05)  # the controller starts the stage's process first thing
    for process in [*controller.children(recursive=True), controller]:
        process.send_signal(signal.SIGKILL)


class _SessionEnds(Exception):
    """Stands for the end of an earlier, local run of the same command."""


def test_reproduce_on_submitit_runs_two_jobs_at_once_and_reruns_a_killed_one(
        tmp_path: Path, tiny_model_dir: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    out, board = tmp_path / "results", tmp_path / "board"
    run = {"base": str(tiny_model_dir), "leaderboard_out": board, "data_dir": str(shared_data)}

    # an earlier local run (this process) got as far as mono; the engine run continues it
    def stop_after_mono(event) -> None:
        if event.kind == "end" and event.label == "evaluate mono-st-tiny on XQuADRHeldOutRetrieval":
            raise _SessionEnds
    with pytest.raises(_SessionEnds):
        reproduce(PRESET, out, on_event=stop_after_mono, **run)

    engine = SubmititEngine(tmp_path / "jobs", cluster="local", max_jobs=2, timeout_min=10, poll_s=0.2)
    killed = "evaluate hybrid-st-tiny on XQuADRHeldOutRetrieval"
    running: set[str] = set()
    most = 0
    events: list = []

    def on_event(event) -> None:
        nonlocal most
        events.append(event)
        if event.kind == "begin" and event.job:
            running.add(event.label)
            most = max(most, len(running))
            if event.label == killed:
                _kill_job(event.job)
        elif event.kind == "end":
            running.discard(event.label)

    with pytest.raises(HybridBenchError, match=rf"2 of 8 stage\(s\) did not finish \({killed}: job \d+ failed"):
        reproduce(PRESET, out, engine=engine, on_event=on_event, **run)
    jobs = [e.label for e in events if e.kind == "begin" and e.job]
    # both trainings start at once; each evaluation after its own training ended (which one first is timing)
    assert jobs[:2] == ["train cross-st-tiny (α=0)", "train hybrid-st-tiny (α=0.5)"]
    assert sorted(jobs[2:]) == ["evaluate cross-st-tiny on XQuADRHeldOutRetrieval", killed]
    order = [(e.kind, e.label) for e in events if e.kind in ("begin", "end")]
    for model, alpha in (("cross-st-tiny", "0"), ("hybrid-st-tiny", "0.5")):
        assert (order.index(("end", f"train {model} (α={alpha})"))
                < order.index(("begin", f"evaluate {model} on XQuADRHeldOutRetrieval")))
    assert most == 2  # two jobs at once
    ends = {e.label: e for e in events if e.kind == "end"}
    assert "has not produced any output (state: INTERRUPTED)" in ends[killed].failed and "log:" in ends[killed].failed
    assert ends["leaderboard"].failed.startswith(f"not run: {killed}")
    assert [label for label, e in ends.items() if e.skipped] == [
        "evaluate st on XQuADRHeldOutRetrieval", "train mono-st-tiny (α=1)",
        "evaluate mono-st-tiny on XQuADRHeldOutRetrieval"]
    # every job's ledger mark is merged into the one ledger; no mark file is left behind
    done = json.loads((out / LEDGER_FILE).read_text(encoding="utf-8"))["done"]
    assert len(done) == 3 and not list((out / MARKS_DIR).glob("*.json"))
    assert (out / "training" / "hybrid-st-tiny.json").is_file()  # written by its training job

    # the same command again: exactly the killed evaluation runs (as a job), then the leaderboard
    again: list = []
    summary = reproduce(PRESET, out, engine=engine, on_event=again.append, **run)
    assert [e.label for e in again if e.kind == "begin" and e.job] == [killed]
    assert [s["stage"] for s in summary.stages if not s["skipped"]] == [killed, "leaderboard"]
    done = json.loads((out / LEDGER_FILE).read_text(encoding="utf-8"))["done"]
    assert len(done) == 4 and all(entry["machine"]["versions"]["torch"] for entry in done.values())
    import pandas as pd

    scores = pd.read_csv(summary.leaderboard / "scores_long.csv.gz")
    assert set(scores["label"]) >= {"st", "mono-st-tiny", "cross-st-tiny", "hybrid-st-tiny"}


def test_slurm_options_reach_the_job_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """What a cluster user's options become: the ``#SBATCH`` lines submitit writes (``srun`` / ``sbatch`` are
    stand-ins here that only accept the submission, as a Slurm login node would)."""
    from hybrid_bench.cli import main
    from hybrid_bench.experiment.engines import run_stage_job

    # without Slurm, asking for it is one clear line, before any work
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["reproduce", "--quick", "--output-folder", str(tmp_path / "r"), "--engine", "submitit",
                 "--engine-cluster", "slurm"]) != 0
    assert "submitit cannot use cluster 'slurm'" in capsys.readouterr().err
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho 'Submitted batch job 4242'\n", encoding="utf-8")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]))
    engine = SubmititEngine(tmp_path / "jobs", cluster="slurm", timeout_min=720, gpus_per_job=1, cpus_per_job=8,
                            mem_gb=32, slurm_partition="gpu", slurm_extra={"account": "proj"})
    assert engine.cluster == "slurm" and engine.max_jobs is None  # Slurm queues every job
    job = engine.executor.submit(run_stage_job, None, plan(PRESETS["quick"], "me5-small")[1])
    assert job.job_id == "4242"
    script = next((tmp_path / "jobs").rglob("*.sh")).read_text(encoding="utf-8")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --cpus-per-task=8",
                 "#SBATCH --mem=32GB", "#SBATCH --time=720", "#SBATCH --account=proj"):
        assert line in script, (line, script)
