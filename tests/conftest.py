"""Shared test set-up: offline, single-threaded, real data from ../shared/data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("HYBRID_BENCH_DATA", PROJECT_ROOT.parent / "shared" / "data"))
if SHARED_DATA.is_dir():
    # tests and CI read the real data from ../shared/data, never from a download
    os.environ.setdefault("HYBRID_BENCH_DATA", str(SHARED_DATA))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real data (``../shared/data``); tests that need it are skipped only if it is absent."""
    if not (SHARED_DATA / "lareqa").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's cache writes out of the user's real cache, unless a test opts into a shared one."""
    if "HYBRID_BENCH_TEST_HOME" in os.environ:
        monkeypatch.setenv("HYBRID_BENCH_HOME", os.environ["HYBRID_BENCH_TEST_HOME"])
    else:
        monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path_factory.mktemp("hbhome")))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny sentence-transformers model folder (see tests/tiny_model.py)."""
    from tiny_model import build_tiny_model

    out = tmp_path_factory.mktemp("tiny")
    build_tiny_model(out)
    return out / "st"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full-rebuild", action="store_true", default=False,
                     help="also rebuild every table of the committed seeded leaderboard (≈ 10 min on 2 cores; "
                          "tests/test_leaderboard_rebuild_seeded.py)")


@pytest.fixture
def encoded_counts():
    """Every count of texts encoded in this process while the test runs (:func:`hybrid_bench.display.on_encoded`:
    a tracked model's batches and the texts the embedding code encodes itself)."""
    from hybrid_bench import display

    counts: list[int] = []
    with display.on_encoded(counts.append):
        yield counts
