"""Results are never labelled with data they were not computed on: mirror labels, SHA256SUMS, parquet checks,
modified LAReQA files (issue 12, part 2) and loading only the languages a run needs (part 5)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hybrid_bench.data import mirrors
from hybrid_bench.errors import DataError

KINDS = ("corpus", "queries", "qrels")


def _mirror(shared_data: Path, root: Path, *, sums: bool = True) -> Path:
    """A one-language copy (sw) of the MIRACL mirror, with its own SHA256SUMS."""
    folder = root / "mirror"
    lines = []
    for kind in KINDS:
        src = shared_data / "miracl-lite" / f"sw-{kind}" / "dev-00000-of-00001.parquet"
        dst = folder / f"sw-{kind}" / src.name
        dst.parent.mkdir(parents=True)
        shutil.copyfile(src, dst)
        lines.append(f"{hashlib.sha256(dst.read_bytes()).hexdigest()}  sw-{kind}/{src.name}")
    if sums:
        (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return folder


def _parquet(folder: Path, kind: str) -> Path:
    return folder / f"sw-{kind}" / "dev-00000-of-00001.parquet"


def test_edited_mirror_file_is_refused(shared_data: Path, tmp_path: Path) -> None:
    folder = _mirror(shared_data, tmp_path)
    before = mirrors.mirror_revision(folder)
    qrels = pd.read_parquet(_parquet(folder, "qrels"))
    qrels.iloc[1:].to_parquet(_parquet(folder, "qrels"), index=False)  # one judgement dropped
    with pytest.raises(DataError, match=r"sw-qrels/dev-00000-of-00001\.parquet: sha256 .* does not match"):
        mirrors.mirror_revision(folder)
    assert before.startswith("mirror:mirror@")


def test_mirror_label_changes_with_any_file_without_sums(shared_data: Path, tmp_path: Path) -> None:
    folder = _mirror(shared_data, tmp_path, sums=False)
    before = mirrors.mirror_revision(folder)
    qrels = pd.read_parquet(_parquet(folder, "qrels"))
    qrels.iloc[1:].to_parquet(_parquet(folder, "qrels"), index=False)
    after = mirrors.mirror_revision(folder)
    assert after != before and after.startswith("mirror:mirror@")


def test_truncated_parquet_is_named(shared_data: Path, tmp_path: Path) -> None:
    folder = _mirror(shared_data, tmp_path, sums=False)
    corpus = _parquet(folder, "corpus")
    corpus.write_bytes(corpus.read_bytes()[: corpus.stat().st_size // 2])
    with pytest.raises(DataError, match=r"sw-corpus/dev-00000-of-00001\.parquet: not a readable parquet file"):
        mirrors.check_parquet_files(folder, [f"sw-{k}" for k in KINDS])


def test_renamed_column_is_named(shared_data: Path, tmp_path: Path) -> None:
    folder = _mirror(shared_data, tmp_path, sums=False)
    queries = _parquet(folder, "queries")
    pd.read_parquet(queries).rename(columns={"text": "question"}).to_parquet(queries, index=False)
    with pytest.raises(DataError, match=r"sw-queries/.*missing column\(s\) \['text'\] of a queries file"):
        mirrors.check_parquet_files(folder, [f"sw-{k}" for k in KINDS])


def test_file_hashes_are_cached_by_size_and_mtime(shared_data: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from hybrid_bench.data import sources

    folder = _mirror(shared_data, tmp_path, sums=False)
    files = [_parquet(folder, k) for k in KINDS]
    first = sources.file_sha256s(files)
    monkeypatch.setattr(sources, "_hash_file", lambda path: pytest.fail(f"hashed {path} again"))
    assert sources.file_sha256s(files) == first  # from $HYBRID_BENCH_HOME/cache, no re-hash
    monkeypatch.undo()
    pd.read_parquet(files[2]).iloc[1:].to_parquet(files[2], index=False)
    assert sources.file_sha256s(files)[2] != first[2]


def test_task_reads_only_the_languages_of_its_settings(shared_data: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from hybrid_bench.tasks.lareqa import XQuADRRetrieval

    folder = tmp_path / "lareqa" / "xquad-r"
    folder.mkdir(parents=True)
    for lang in ("de", "en"):  # the other nine languages are missing
        (folder / f"{lang}.json").symlink_to(shared_data / "lareqa" / "xquad-r" / f"{lang}.json")
    monkeypatch.setenv("HYBRID_BENCH_DATA", str(tmp_path))
    task = XQuADRRetrieval().filter_languages(["deu"], hf_subsets=["deu-deu", "deu-eng"])
    assert task.needed_languages() == ["de", "en"]
    assert task.lareqa_data.langs == ("de", "en")


def test_task_on_modified_data_is_labelled_with_its_hash(shared_data: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from hybrid_bench.tasks.lareqa import XQuADRRetrieval

    folder = tmp_path / "lareqa" / "xquad-r"
    folder.mkdir(parents=True)
    for src in (shared_data / "lareqa" / "xquad-r").glob("*.json"):
        (folder / src.name).symlink_to(src)
    (folder / "de.json").unlink()
    text = (shared_data / "lareqa" / "xquad-r" / "de.json").read_text(encoding="utf-8")
    (folder / "de.json").write_text(text.replace("Panthers", "Panther", 1), encoding="utf-8")
    monkeypatch.setenv("HYBRID_BENCH_DATA", str(tmp_path))
    official = XQuADRRetrieval.metadata.revision
    with pytest.raises(DataError, match="de.json: sha256"):
        XQuADRRetrieval().filter_languages(["deu"], hf_subsets=["deu-deu"]).load_data()
    task = XQuADRRetrieval(allow_modified_data=True)
    assert task.metadata.revision.startswith("modified:") and task.metadata.revision != official
    assert XQuADRRetrieval.metadata.revision == official  # the class (mteb's registry) is untouched
