"""The stock ``mteb`` CLI with hybrid-bench installed: import hook, model names, mirrors - all in fresh processes.

Every test starts a new interpreter of this environment, so what is tested is what a user's shell gets: the
``hybrid_bench_hook.pth`` file in site-packages, not anything this pytest process registered. Models are a tiny
BERT registered through a user ``models.toml`` in a temporary ``HYBRID_BENCH_HOME`` (what a user who adds
``hybrid-mybase`` does); data is the real ``../shared/data``, offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA

BIN = Path(sys.executable).parent
MIRACL_MIRROR = (SHARED_DATA / "miracl-lite").resolve()  # the mirror code reports resolved paths
TINY = "hybrid-tiny"
HOOK_STATE = (
    "import sys; print('mteb' in sys.modules, "
    "any(type(f).__name__ == '_AfterImportFinder' for f in sys.meta_path), '_hybrid_bench_hook' in sys.modules)"
)


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A HYBRID_BENCH_HOME whose models.toml adds ``hybrid-tiny`` (a trained model, like the paper's) and whose
    store holds the tiny model under that name."""
    home = tmp_path_factory.mktemp("clihome")
    shutil.copytree(tiny_model_dir, home / "models" / TINY)
    (home / "models.toml").write_text(
        f'[models.{TINY}]\nbase = "me5-small"\nstrategy = "hybrid"\nalpha = 0.5\nembed_dim = 32\nmax_tokens = 64\n'
        'training_datasets = ["XQuADRRetrieval"]\n',
        encoding="utf-8",
    )
    return home


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HYBRID_BENCH_NO_MTEB_HOOK", "HYBRID_BENCH_MIRRORS")}
    env.update(HYBRID_BENCH_HOME=str(home), HYBRID_BENCH_DATA=str(SHARED_DATA), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # cwd outside the checkout: the package must come from the installation, not from the current directory
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _result_file(output: Path, model: str, task: str) -> tuple[Path, dict]:
    files = list((output / "results" / f"hybrid-bench__{model}").glob(f"*/{task}.json"))
    assert len(files) == 1, f"expected one {task}.json under {output}, found {files}"
    return files[0], json.loads(files[0].read_text(encoding="utf-8"))


def _one_clear_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``mteb: error: ...`` line of a failed run; fails on tracebacks."""
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("mteb: error: ")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


# -- the hook -------------------------------------------------------------------------------------------------------
def test_hook_file_is_installed():
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    line = (site / "hybrid_bench_hook.pth").read_text(encoding="utf-8")
    assert line.startswith("import ") and "HYBRID_BENCH_NO_MTEB_HOOK" in line and "_hybrid_bench_hook" in line


def test_plain_python_installs_hook_but_does_not_import_mteb(tmp_path: Path):
    proc = _run([sys.executable, "-c", HOOK_STATE], _env(tmp_path), tmp_path)
    assert proc.stdout.split() == ["False", "True", "True"], proc.stderr


def test_env_var_switches_hook_off(tmp_path: Path):
    proc = _run([sys.executable, "-c", HOOK_STATE], _env(tmp_path, HYBRID_BENCH_NO_MTEB_HOOK="1"), tmp_path)
    assert proc.stdout.split() == ["False", "False", "False"], proc.stderr


def test_hook_off_then_explicit_registration(tmp_path: Path):
    """With the hook off mteb knows nothing of hybrid-bench; ``hybrid-bench mteb`` still registers everything."""
    code = (
        "import mteb, sys\n"
        "from mteb.get_tasks import _TASKS_REGISTRY\n"
        "from mteb.models.model_implementations import MODEL_REGISTRY\n"
        "print('XQuADRRetrieval' in _TASKS_REGISTRY, 'hybrid-bench/hybrid-xlmr' in MODEL_REGISTRY)\n"
        "from hybrid_bench.cli import main\n"
        "print('rc', main(['mteb', 'run', '-m', 'hybrid-xlmr', '-t', 'XQuADRRetrieval']))\n"
    )
    proc = _run([sys.executable, "-c", code], _env(tmp_path, HYBRID_BENCH_NO_MTEB_HOOK="1"), tmp_path)
    assert proc.stdout.splitlines()[0] == "False False", proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == "rc 1", proc.stderr[-3000:]
    assert "hybrid-bench mteb: error: " in proc.stderr and "--out hybrid-xlmr`" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- mteb run ---------------------------------------------------------------------------------------------------------
def test_mteb_run_xquadr_writes_mteb_layout(tiny_home: Path, tmp_path: Path, shared_data: Path):
    from hybrid_bench.tasks.lareqa import XQuADRRetrieval

    proc = _run([str(BIN / "mteb"), "run", "-m", TINY, "-t", "XQuADRRetrieval", "-l", "deu",
                 "--output-folder", str(tmp_path / "out")], _env(tiny_home), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    path, result = _result_file(tmp_path / "out", TINY, "XQuADRRetrieval")
    # results/<org>__<name>/<revision>/<task>.json with model_meta.json beside it, as mteb lays them out
    assert path.parent.name.startswith("local-")
    meta = json.loads((path.parent / "model_meta.json").read_text(encoding="utf-8"))
    assert meta["name"] == f"hybrid-bench/{TINY}" and meta["revision"] == path.parent.name
    assert meta["adapted_from"] == "hybrid-bench/me5-small" and meta["training_datasets"] == ["XQuADRRetrieval"]
    assert result["task_name"] == "XQuADRRetrieval"
    assert result["dataset_revision"] == XQuADRRetrieval.metadata.revision
    expected = {s for s, langs in XQuADRRetrieval.metadata.eval_langs.items() if any(x.startswith("deu") for x in langs)}
    scores = result["scores"]["test"]
    assert {s["hf_subset"] for s in scores} == expected and len(expected) == 22
    for subset in scores:
        assert 0.0 <= subset["main_score"] == subset["map"] <= 1.0
        assert subset["languages"] and all(lang.endswith(("-Latn", "-Arab", "-Grek", "-Deva", "-Cyrl", "-Thai",
                                                          "-Hans")) for lang in subset["languages"])


def test_mteb_run_miracl_with_mirror_records_it(tiny_home: Path, tmp_path: Path):
    if not (MIRACL_MIRROR / "README.md").is_file():
        pytest.skip(f"no MIRACL mirror at {MIRACL_MIRROR}")
    from hybrid_bench.data.mirrors import mirror_revision

    env = _env(tiny_home, HYBRID_BENCH_MIRRORS=f"mteb/MIRACLRetrieval={MIRACL_MIRROR}")
    proc = _run([str(BIN / "mteb"), "run", "-m", TINY, "-t", "MIRACLRetrieval", "-l", "swa",
                 "--output-folder", str(tmp_path / "out")], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = " ".join((proc.stderr + proc.stdout).split())  # rich wraps long log lines
    assert "using local mirror" in log and str(MIRACL_MIRROR) in log and "not comparable to official" in log
    _, result = _result_file(tmp_path / "out", TINY, "MIRACLRetrieval")
    assert result["dataset_revision"] == mirror_revision(MIRACL_MIRROR)
    assert result["dataset_revision"].startswith("mirror:miracl-lite@")
    scores = result["scores"]["dev"]
    assert [s["hf_subset"] for s in scores] == ["sw"] and 0.0 <= scores[0]["ndcg_at_10"] <= 1.0


def test_language_missing_from_mirror_is_one_clear_error(tiny_home: Path, tmp_path: Path):
    if not (MIRACL_MIRROR / "README.md").is_file():
        pytest.skip(f"no MIRACL mirror at {MIRACL_MIRROR}")
    env = _env(tiny_home, HYBRID_BENCH_MIRRORS=f"mteb/MIRACLRetrieval={MIRACL_MIRROR}")
    proc = _run([str(BIN / "mteb"), "run", "-m", TINY, "-t", "MIRACLRetrieval", "-l", "tha",
                 "--output-folder", str(tmp_path / "out")], env, tmp_path)
    error = _one_clear_error(proc)
    assert str(MIRACL_MIRROR) in error and "subset(s) th " in error and "language(s) tha" in error
    assert "-l ara ben deu" in error and "BuilderConfig" not in proc.stderr
    assert not list((tmp_path / "out").rglob("MIRACLRetrieval.json"))


def test_untrained_model_is_one_clear_error(tmp_path: Path):
    proc = _run([str(BIN / "mteb"), "run", "-m", "hybrid-xlmr", "-t", "MIRACLRetrieval",
                 "--output-folder", str(tmp_path / "out")], _env(tmp_path), tmp_path)
    error = _one_clear_error(proc)
    assert (
        "`hybrid-bench train --base FacebookAI/xlm-roberta-base --strategy hybrid --alpha 0.5 --out hybrid-xlmr`"
        in error
    )
    assert str(tmp_path / "models" / "hybrid-xlmr") in error


def test_broken_user_models_toml_is_one_clear_error(tmp_path: Path):
    """``import mteb`` only warns about it (it must not break code that never uses hybrid-bench); the CLI stops."""
    (tmp_path / "models.toml").write_text('[models.hybrid-mybase]\nbase = "me5-small"\nstrategy = "diagonal"\n',
                                          encoding="utf-8")
    proc = _run([str(BIN / "mteb"), "run", "-m", "hybrid-mybase", "-t", "XQuADRRetrieval",
                 "--output-folder", str(tmp_path / "out")], _env(tmp_path), tmp_path)
    error = _one_clear_error(proc)
    assert str(tmp_path / "models.toml") in error and "'hybrid-mybase'" in error and "strategy 'diagonal'" in error
    assert "HYBRID_BENCH_NO_MTEB_HOOK=1" in proc.stderr  # the import-time warning says how to switch the hook off
