"""Mirrors as the mteb plugin applies them: configuration errors, swapped task classes, subset checks (in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SHARED_DATA
from hybrid_bench.data import mirrors
from hybrid_bench.errors import DataError

MIRROR = (SHARED_DATA / "miracl-lite").resolve()  # the mirror code reports resolved paths
needs_mirror = pytest.mark.skipif(not (MIRROR / "README.md").is_file(), reason=f"no MIRACL mirror at {MIRROR}")


def test_env_entry_syntax_error_names_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(mirrors.MIRRORS_ENV, "mteb/MIRACLRetrieval:/data/miracl-lite")
    with pytest.raises(DataError, match=r"\$HYBRID_BENCH_MIRRORS: mirror entry .* is not of the form repo_id=folder"):
        mirrors.mirror_map()


def test_env_wins_over_file_and_relative_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(home))
    (home / "mirrors.toml").write_text('[mirrors]\n"a/x" = "data/x"\n"a/y" = "/elsewhere/y"\n', encoding="utf-8")
    monkeypatch.setenv(mirrors.MIRRORS_ENV, f"a/y={tmp_path / 'y'}")
    assert mirrors.mirror_map() == {"a/x": home / "data" / "x", "a/y": tmp_path / "y"}


def test_configured_folder_that_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(mirrors.MIRRORS_ENV, f"mteb/MIRACLRetrieval={tmp_path / 'nope'}")
    with pytest.raises(DataError, match="which is not a folder") as err:
        mirrors.get_mirror("mteb/MIRACLRetrieval")
    assert "$HYBRID_BENCH_MIRRORS" in str(err.value)


@needs_mirror
def test_stock_task_class_swapped_with_mirror_revision(monkeypatch: pytest.MonkeyPatch):
    from mteb.tasks.retrieval.multilingual.miracl_retrieval import MIRACLRetrieval

    monkeypatch.setenv(mirrors.MIRRORS_ENV, f"mteb/MIRACLRetrieval={MIRROR}")
    cls = mirrors.mirrored_task_class(MIRACLRetrieval)
    assert cls is not None and issubclass(cls, MIRACLRetrieval) and cls.metadata.name == "MIRACLRetrieval"
    assert cls.metadata.dataset["path"] == str(MIRROR)
    assert cls.metadata.revision == mirrors.mirror_revision(MIRROR) != MIRACLRetrieval.metadata.revision
    assert MIRACLRetrieval.metadata.dataset["path"] == "mteb/MIRACLRetrieval"  # the stock class is untouched
    task = cls().filter_languages(["tha"])
    with pytest.raises(DataError, match=r"no data for MIRACLRetrieval subset\(s\) th .*-l ara ben deu"):
        task.load_data()


@needs_mirror
def test_pool_task_checks_its_own_configs(monkeypatch: pytest.MonkeyPatch):
    """hybrid-bench's cross-lingual MIRACL subsets ("sw-all") are settings, not configs: the task names the configs."""
    from hybrid_bench.tasks.miracl import MIRACLCrossLingualRetrieval

    monkeypatch.setenv(mirrors.MIRRORS_ENV, f"mteb/MIRACLRetrieval={MIRROR}")
    cls = mirrors.mirrored_task_class(MIRACLCrossLingualRetrieval)
    assert cls is not None
    task = cls().filter_languages(["swa"])
    assert mirrors.required_configs(task) == {s: ["sw-corpus", "sw-queries", "sw-qrels"] for s in ("sw-mono", "sw-all")}
    assert mirrors.apply_mirrors_to_task(task) is True  # would raise "no data for ... sw-all" if configs were guessed


def test_mirror_use_is_announced_once_per_task_and_data(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture):
    """reproduce builds each MIRACL task once per model: the warning is said once, and again for other data."""
    from types import SimpleNamespace

    monkeypatch.setattr(mirrors, "_WARNED", set())
    task = SimpleNamespace(metadata=SimpleNamespace(name="MIRACLRetrieval"))
    mirror = SimpleNamespace(folder=Path("m"), repo_id="mteb/MIRACLRetrieval", revision="mirror:m@000000000000")
    with caplog.at_level("WARNING", logger=mirrors.__name__):
        for _ in range(3):
            mirrors._log_use(task, mirror)
        mirrors._log_use(task, SimpleNamespace(**{**vars(mirror), "revision": "mirror:m@111111111111"}))
    said = [r.getMessage() for r in caplog.records if "using local mirror" in r.getMessage()]
    assert len(said) == 2 and "not comparable to official runs" in said[0] and "111111111111" in said[1]
