"""Results are never labelled with data they were not computed on: mirror labels, SHA256SUMS, parquet checks,
modified LAReQA files (issue 12, part 2) and loading only the languages a run needs (part 5)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hybrid_bench.data import mirrors
from hybrid_bench.data.mirror_integrity import read_mirror
from hybrid_bench.errors import DataError

KINDS = ("corpus", "queries", "qrels")


def _mirror(shared_data: Path, root: Path, *, sums: bool = True, lang: str = "sw", name: str = "mirror") -> Path:
    """A one-language copy of the MIRACL mirror (README ``configs:``), with its own SHA256SUMS."""
    folder = root / name
    lines, configs = [], []
    for kind in KINDS:
        src = shared_data / "miracl-lite" / f"{lang}-{kind}" / "dev-00000-of-00001.parquet"
        dst = folder / f"{lang}-{kind}" / src.name
        dst.parent.mkdir(parents=True)
        shutil.copyfile(src, dst)
        lines.append(f"{hashlib.sha256(dst.read_bytes()).hexdigest()}  {lang}-{kind}/{src.name}")
        configs.append(f"- config_name: {lang}-{kind}\n  data_files:\n  - split: dev\n    path: {lang}-{kind}/dev-*\n")
    (folder / "README.md").write_text("---\nconfigs:\n" + "".join(configs) + "---\n", encoding="utf-8")
    if sums:
        _write_sums(folder)
    return folder


def _write_sums(folder: Path) -> None:
    files = sorted(p for p in folder.rglob("*.parquet"))
    (folder / "SHA256SUMS").write_text("".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  "
                                               f"{p.relative_to(folder).as_posix()}\n" for p in files))


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
        read_mirror(folder, [f"sw-{k}" for k in KINDS])


def test_renamed_column_is_named(shared_data: Path, tmp_path: Path) -> None:
    folder = _mirror(shared_data, tmp_path, sums=False)
    queries = _parquet(folder, "queries")
    pd.read_parquet(queries).rename(columns={"text": "question"}).to_parquet(queries, index=False)
    with pytest.raises(DataError, match=r"sw-queries/.*missing column\(s\) \['text'\] of a queries file"):
        read_mirror(folder, [f"sw-{k}" for k in KINDS])


def _same_size_edit(path: Path) -> None:
    """Change one byte of ``path`` and give it back its size and modification time (``touch -r``)."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_edit_keeping_size_and_mtime_is_detected(shared_data: Path, tmp_path: Path) -> None:
    """The label and the SHA256SUMS check rest on the bytes, not on (path, size, mtime): nothing is cached."""
    checked = _mirror(shared_data, tmp_path / "a")
    unchecked = _mirror(shared_data, tmp_path / "b", sums=False)
    labels = {folder: mirrors.mirror_revision(folder) for folder in (checked, unchecked)}  # any cache is warm now
    read_mirror(checked, [f"sw-{k}" for k in KINDS])
    for folder in (checked, unchecked):
        _same_size_edit(_parquet(folder, "qrels"))
    with pytest.raises(DataError, match=r"sw-qrels/dev-00000-of-00001\.parquet: sha256 .* does not match"):
        mirrors.mirror_revision(checked)
    with pytest.raises(DataError, match="does not match"):
        read_mirror(checked, ["sw-qrels"])
    assert mirrors.mirror_revision(unchecked) != labels[unchecked]


def test_each_file_is_read_once_and_parsed_from_the_bytes_hashed(shared_data: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _mirror(shared_data, tmp_path)
    reads: list[str] = []
    real_read_bytes, real_open = Path.read_bytes, open

    def read_bytes(self: Path) -> bytes:
        reads.append(self.name if self.parent == folder else f"{self.parent.name}/{self.name}")
        return real_read_bytes(self)

    def spy_open(file: object, *args: object, **kwargs: object) -> object:
        if str(file).startswith(str(folder)):
            reads.append(Path(str(file)).relative_to(folder).as_posix())
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr("builtins.open", spy_open)
    snapshot = read_mirror(folder, [f"sw-{k}" for k in KINDS])
    monkeypatch.undo()
    data_reads = [r for r in reads if r.endswith(".parquet")]
    assert sorted(data_reads) == sorted(f"sw-{k}/dev-00000-of-00001.parquet" for k in KINDS)  # once each
    qrels = pd.read_parquet(_parquet(folder, "qrels"))
    assert snapshot.dataset("sw-qrels", "dev").to_pandas().equals(qrels)
    assert snapshot.sha256["sw-qrels/dev-00000-of-00001.parquet"] == hashlib.sha256(
        _parquet(folder, "qrels").read_bytes()).hexdigest()
    assert snapshot.revision == mirrors.mirror_revision(folder)


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


# -- the leaderboard names the data of every row and marks non-official numbers (issue 23, item 3) ------------------

def test_leaderboard_marks_modified_and_mirror_data_where_the_number_is(tmp_path: Path) -> None:
    import json

    from leaderboard_synthetic import build_synthetic_results

    from hybrid_bench.leaderboard.build import build_leaderboard
    from hybrid_bench.leaderboard.page import INDEX
    from hybrid_bench.leaderboard.results import DATA_MARKS, load_results

    build_synthetic_results(tmp_path, with_per_query=False)
    modified, mirror = "modified:e25b0c4d9a1f", "mirror:miracl-lite@7bc34b2d8bde"
    for task, model, label in (("XQuADRRetrieval", "hybrid-me5-small", modified),
                               ("MIRACLRetrieval", "mono-me5-small", mirror)):
        file = next((tmp_path / "results").glob(f"hybrid-bench__{model}/*/{task}.json"))
        result = json.loads(file.read_text(encoding="utf-8"))
        file.write_text(json.dumps({**result, "dataset_revision": label}), encoding="utf-8")
    assert set(load_results(tmp_path)["dataset_revision"]) >= {modified, mirror}
    board = build_leaderboard(tmp_path, n_resamples=500, progress=False, make_plots=False, qrels_loader=None)

    table1 = board.display["table1_map"]
    hybrid, mono = table1.loc["hybrid-me5-small"], table1.loc["mono-me5-small"]
    numbers = [c for c in table1.columns if c != "data"]
    assert all(str(hybrid[c]).endswith(DATA_MARKS["modified"]) for c in numbers)  # every XQuAD-R cell of the row
    assert not any(str(mono[c]).endswith(tuple(DATA_MARKS.values())) for c in numbers)  # XQuAD-R is official
    assert hybrid["data"] == f"XQuAD-R: {modified}{DATA_MARKS['modified']}" and mono["data"] == "official"

    miracl = board.display["per_language_MIRACLRetrieval"]
    assert all(v.endswith(DATA_MARKS["mirror"]) for v in miracl["nDCG@10 / mono-me5-small"])
    assert not any(v.endswith(DATA_MARKS["mirror"]) for v in miracl["nDCG@10 / hybrid-me5-small"])
    assert set(miracl["data"]) == {f"mono-me5-small: {mirror}{DATA_MARKS['mirror']}; cross-me5-small: official; "
                                   "hybrid-me5-small: official"}  # every row, languages and mean
    legend = [n for n in board.notes if n.startswith((DATA_MARKS["mirror"], DATA_MARKS["modified"]))]
    assert len(legend) == 2

    page = (board.write(tmp_path / "board") / INDEX).read_text(encoding="utf-8")
    assert f"{modified}{DATA_MARKS['modified']}" in page and mirror in page and "--allow-modified-data" in page
