"""A built wheel, installed into a fresh venv, brings the mteb import hook with it (not only ``pip install -e .``).

Offline and fast: the source files the build needs are copied to a temporary folder, ``python -m build`` makes an
sdist and then a wheel *from that sdist* (so MANIFEST.in is tested too), with this environment's setuptools
(``--no-isolation``). A bare venv (``--without-pip``) gets the wheel through this environment's pip
(``pip --python <venv> install --no-deps --no-index``); the dependencies (mteb, torch, ...) come from this
environment's site-packages through a path-only ``.pth`` file, which adds them to ``sys.path`` but does not run
their ``.pth`` files - so the hook can only come from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT

# what the build reads: pyproject.toml, MANIFEST.in and the files they name
BUILD_INPUTS = ("pyproject.toml", "MANIFEST.in", "README.md", "_hybrid_bench_build.py", "_hybrid_bench_hook.py",
                "hybrid_bench_hook.pth", "hybrid_bench")


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    pytest.importorskip("build")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = PROJECT_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", "--outdir", str(dist), str(src)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    (wheel,) = dist.glob("hybrid_bench-*.whl")
    root = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "_hybrid_bench_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYBRID_BENCH_NO_MTEB_HOOK")}
    env.update(HYBRID_BENCH_HOME=str(tmp / "home"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1")
    return {"wheel": wheel, "python": python, "site": site, "env": env, "cwd": tmp}


def _run(wheel_env: dict, code: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(wheel_env["python"]), "-c", code], env=wheel_env["env"] | extra, cwd=wheel_env["cwd"],
                          capture_output=True, text=True, timeout=600)


def test_wheel_ships_hook_at_site_packages_top(wheel_env: dict):
    names = zipfile.ZipFile(wheel_env["wheel"]).namelist()
    assert {"hybrid_bench_hook.pth", "_hybrid_bench_hook.py", "hybrid_bench/mteb_plugin.py"} <= set(names)
    assert not any(name.startswith("_hybrid_bench_build") for name in names)  # build-time only
    assert (wheel_env["site"] / "hybrid_bench_hook.pth").is_file()
    assert (wheel_env["site"] / "_hybrid_bench_hook.py").is_file()


def test_fresh_venv_plain_python_has_hook_without_mteb(wheel_env: dict):
    proc = _run(wheel_env, "import sys, _hybrid_bench_hook as h; print('mteb' in sys.modules, "
                           "any(type(f).__name__ == '_AfterImportFinder' for f in sys.meta_path), h.__file__)")
    assert proc.returncode == 0, proc.stderr
    imported, active, origin = proc.stdout.split()
    assert (imported, active) == ("False", "True")
    assert Path(origin).parent == wheel_env["site"]
    off = _run(wheel_env, "import sys; print('_hybrid_bench_hook' in sys.modules)", HYBRID_BENCH_NO_MTEB_HOOK="1")
    assert off.stdout.strip() == "False", off.stderr


def test_fresh_venv_mteb_sees_tasks_models_and_cli_errors(wheel_env: dict):
    code = (
        "import sys, mteb, hybrid_bench\n"
        "print(hybrid_bench.__file__)\n"
        "print(mteb.get_task('XQuADRRetrieval').metadata.name, mteb.get_model_meta('hybrid-bench/me5-small').name)\n"
        "from mteb.cli import main\n"
        "sys.argv = ['mteb', 'run', '-m', 'hybrid-xlmr', '-t', 'XQuADRRetrieval']\n"
        "main()\n"
    )
    proc = _run(wheel_env, code)
    lines = proc.stdout.splitlines()
    assert lines[:1] and Path(lines[0]).is_relative_to(wheel_env["site"]), proc.stderr[-3000:]
    assert lines[1] == "XQuADRRetrieval hybrid-bench/me5-small", proc.stderr[-3000:]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "mteb: error: " in proc.stderr and "--strategy hybrid --alpha 0.5 --out hybrid-xlmr`" in proc.stderr
