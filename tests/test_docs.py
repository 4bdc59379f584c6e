"""The documentation site builds strictly, and every Python example in it and in the README runs.

``mkdocs build --strict`` fails on a broken link, a missing page, an unresolvable ``::: module`` reference or a
docstring that mkdocstrings cannot parse. The examples are run by pytest-markdown-docs (each ``python`` fence is one
test; ``{.python notest}`` fences are shown but not run) in a separate pytest process whose working directory and
model store are temporary, so an example can write files without touching the checkout or the user's cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

ROOT = Path(__file__).resolve().parent.parent
# read before the autouse fixture of conftest.py replaces HYBRID_BENCH_HOME with a temporary folder
_USER_MODELS = Path(os.environ.get("HYBRID_BENCH_HOME") or platformdirs.user_cache_dir("hybrid_bench")) / "models"


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = _run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in ("index.html", "tasks/xquad_r/index.html", "api/tasks/index.html", "results/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    # the API pages are generated from the docstrings, and the task cards are included, not copied
    assert "setting_of" in (tmp_path / "site" / "api" / "tasks" / "index.html").read_text()
    assert "sentence_breaks" in (tmp_path / "site" / "tasks" / "xquad_r" / "index.html").read_text()


@pytest.mark.slow
def test_docs_examples_run(tmp_path: Path, shared_data: Path) -> None:
    pytest.importorskip("pytest_markdown_docs", reason="the test extra is not installed: pip install -e '.[test]'")
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    if (_USER_MODELS / "me5-small").is_dir():  # reuse the built base model read-only instead of rebuilding it
        (home / "models" / "me5-small").symlink_to(_USER_MODELS / "me5-small")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "HYBRID_BENCH_HOME": str(home), "HYBRID_BENCH_DATA": str(shared_data),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    docs = sorted(str(p) for p in (ROOT / "docs").rglob("*.md")) + [str(ROOT / "README.md")]
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--markdown-docs",
                 "--markdown-docs-syntax=superfences", f"--rootdir={ROOT}", *docs],
                cwd=work, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    # every runnable fence ran: none was silently left out by a syntax the plugin does not recognise
    runnable = sum(Path(p).read_text().count("\n```python\n") for p in docs)
    assert runnable >= 3 and f"{runnable} passed" in proc.stdout, proc.stdout[-2000:]
