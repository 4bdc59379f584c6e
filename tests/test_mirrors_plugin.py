"""Mirrors as the mteb plugin applies them: configuration errors, swapped task classes, subset checks (in-process)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
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
    mirror = SimpleNamespace(folder=Path("m"), repo_id="mteb/MIRACLRetrieval")
    with caplog.at_level("WARNING", logger=mirrors.__name__):
        for _ in range(3):
            mirrors._log_use(task, mirror, "mirror:m@000000000000")
        mirrors._log_use(task, mirror, "mirror:m@111111111111")
    said = [r.getMessage() for r in caplog.records if "using local mirror" in r.getMessage()]
    assert len(said) == 2 and "not comparable to official runs" in said[0] and "111111111111" in said[1]


# -- a copy under the same folder name, one datasets cache, both orders (issue 23, item 1) --------------------------

def _positives(task: Any, subset: str) -> int:
    return sum(s > 0 for docs in task.dataset[subset]["dev"]["relevant_docs"].values() for s in docs.values())


@pytest.fixture(scope="module")
def same_name_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<tmp>/C/miracl-lite``: the whole mirror with one yo judgment flipped from relevant to not, new SHA256SUMS."""
    if not (MIRROR / "README.md").is_file():
        pytest.skip(f"no MIRACL mirror at {MIRROR}")
    folder = tmp_path_factory.mktemp("C") / "miracl-lite"
    shutil.copytree(MIRROR, folder)
    folder.chmod(0o755)
    qrels_file = folder / "yo-qrels" / "dev-00000-of-00001.parquet"
    qrels_file.parent.chmod(0o755)
    qrels_file.chmod(0o644)
    qrels = pd.read_parquet(qrels_file)
    qrels.loc[qrels.index[qrels.score > 0][0], "score"] = 0
    qrels.to_parquet(qrels_file, index=False)
    sums = folder / "SHA256SUMS"
    sums.chmod(0o644)
    sums.write_text("".join(f"{hashlib.sha256((folder / rel).read_bytes()).hexdigest()}  {rel}\n"
                            for rel in (line.split()[1] for line in sums.read_text().splitlines() if line.strip())))
    return folder


LOADERS = {
    "stock task + apply_mirrors_to_task": lambda: _stock(),
    "plugin's mirrored class": lambda: _plugin_class(),
    "MIRACLMonolingualRetrieval": lambda: _mono(),
    "MIRACLCrossLingualRetrieval": lambda: _cross(),
}


def _stock() -> tuple[Any, str]:
    import mteb

    task = mteb.get_task("MIRACLRetrieval", languages=["yor"])
    assert mirrors.apply_mirrors_to_task(task)
    return task, "yo"


def _plugin_class() -> tuple[Any, str]:
    from mteb.tasks.retrieval.multilingual.miracl_retrieval import MIRACLRetrieval

    cls = mirrors.mirrored_task_class(MIRACLRetrieval)
    assert cls is not None
    return cls().filter_languages(["yor"]), "yo"


def _mono() -> tuple[Any, str]:
    from hybrid_bench.tasks.miracl import MIRACLMonolingualRetrieval

    return MIRACLMonolingualRetrieval().filter_languages(["yor"]), "yo"


def _cross() -> tuple[Any, str]:
    from hybrid_bench.tasks.miracl import MIRACLCrossLingualRetrieval

    return MIRACLCrossLingualRetrieval().filter_languages(["yor"], hf_subsets=["yo-mono"]), "yo-mono"


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("order", ["copy first", "official first"])
def test_same_named_copy_never_serves_the_other_folders_data(
    loader: str, order: str, same_name_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two folders named miracl-lite, one ``datasets`` cache: each run reads (and is labelled with) its own data."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    folders = [same_name_copy, MIRROR] if order == "copy first" else [MIRROR, same_name_copy]
    for folder in folders:
        monkeypatch.setenv(mirrors.MIRRORS_ENV, f"mteb/MIRACLRetrieval={folder}")
        task, subset = LOADERS[loader]()
        task.load_data()
        assert task.metadata.revision == mirrors.mirror_revision(folder)
        assert task.metadata.dataset["path"] == str(folder)
        expected = int((pd.read_parquet(folder / "yo-qrels" / "dev-00000-of-00001.parquet").score > 0).sum())
        assert _positives(task, subset) == expected, f"{folder} was served other data"
    assert mirrors.mirror_revision(same_name_copy) != mirrors.mirror_revision(MIRROR)
    assert not any((tmp_path / "hf-datasets").glob("miracl-lite*"))  # mirror data never enters the cache


def test_sampled_copy_pointed_at_by_use_mirror(same_name_copy: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """reproduce points tasks at ``<out>/data/miracl-<preset>`` with use_mirror: mteb's own loader never reads it."""
    import mteb

    monkeypatch.setenv(mirrors.MIRRORS_ENV, f"mteb/MIRACLRetrieval={MIRROR}")  # configured: the official folder
    task = mteb.get_task("MIRACLRetrieval", languages=["yor"])
    mirrors.use_mirror(task, mirrors.Mirror("mteb/MIRACLRetrieval", same_name_copy))
    task.load_data()
    assert task.metadata.revision == mirrors.mirror_revision(same_name_copy)
    assert _positives(task, "yo") == 17  # the copy's, not the configured mirror's 18


@needs_mirror
def test_train_topic_mirror_has_its_own_label_and_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from hybrid_bench.tasks.miracl import MIRACLMonolingualRetrieval
    from hybrid_bench.tasks.miracl_train_topics import FOLDER, MIRACLTrainTopicsRetrieval

    train_folder = (SHARED_DATA / FOLDER).resolve()
    if not (train_folder / "README.md").is_file():
        pytest.skip(f"no train-topic mirror at {train_folder}")
    monkeypatch.setenv(mirrors.MIRRORS_ENV, f"mteb/MIRACLRetrieval={MIRROR}")
    dev = MIRACLMonolingualRetrieval().filter_languages(["swa"])
    dev.load_data()
    train = MIRACLTrainTopicsRetrieval(source=train_folder).filter_languages(["swa"])
    train.load_data()
    assert train.metadata.revision == mirrors.mirror_revision(train_folder) != dev.metadata.revision
    assert train.metadata.revision.startswith(f"mirror:{FOLDER}@")
    train_queries, dev_queries = (set(t.dataset["sw"]["dev"]["queries"]["id"]) for t in (train, dev))
    assert train_queries and not train_queries & dev_queries
