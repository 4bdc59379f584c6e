"""TREC run export: files any evaluator reads, re-scoring to the task's own per-query values."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.per_query import per_query_from_predictions
from hybrid_bench.tasks.trec_run import read_trec_run, run_folder, runs_from_predictions, write_trec_run


def _predictions(tmp_path: Path, n_queries: int = 30, n_docs: int = 400) -> tuple[Path, dict]:
    """An mteb-style predictions file (two subsets, 400 docs per query, many tied scores) and its qrels."""
    rng = np.random.default_rng(7)
    data: dict = {"mteb_model_meta": {"model_name": "org/model", "revision": "r1"}}
    qrels: dict = {}
    for subset in ("ar", "bn"):
        run, judged = {}, {}
        for q in range(n_queries):
            # scores rounded to 2 digits: ties everywhere, also across the top-100 boundary
            scores = np.round(rng.random(n_docs), 2)
            run[str(q)] = {f"{subset}{d}#0": float(s) for d, s in enumerate(scores)}
            relevant = rng.choice(n_docs, size=3, replace=False)
            judged[str(q)] = {f"{subset}{d}#0": 1 for d in relevant}
        data[subset] = {"dev": run}
        qrels[subset] = {"dev": judged}
    path = tmp_path / "MIRACLRetrieval_predictions.json"
    path.write_text(json.dumps(data))
    return path, qrels


def test_runs_rescore_to_the_per_query_values_of_the_full_ranking(tmp_path: Path) -> None:
    path, qrels = _predictions(tmp_path)
    written = runs_from_predictions(path, tmp_path / "out")
    assert sorted(p.name for p in written) == ["ar.dev.trec.gz", "bn.dev.trec.gz"]
    assert all(p.parent == run_folder(tmp_path / "out", "MIRACLRetrieval") for p in written)
    full = per_query_from_predictions(path, qrels).set_index(["subset", "query_id"])
    for file in written:
        subset = file.name.split(".")[0]
        with gzip.open(file, "rt") as lines:
            run = pytrec_eval.parse_run(lines)  # the library's own reader
        assert run == read_trec_run(file)
        assert {len(docs) for docs in run.values()} == {100}
        evaluator = pytrec_eval.RelevanceEvaluator(qrels[subset]["dev"], {"ndcg_cut.10", "recall.100"})
        for query_id, measures in evaluator.evaluate(run).items():
            row = full.loc[(subset, query_id)]
            # same floats, same tie order: the same values exactly (no tolerance needed)
            assert measures["ndcg_cut_10"] == row["ndcg_at_10"]
            assert measures["recall_100"] == row["recall_at_100"]


def test_lines_are_trec_format_in_trec_eval_order_and_bytes_are_reproducible(tmp_path: Path) -> None:
    run = {"q1": {"b": 0.5, "a": 0.5, "c": 0.9, "d": 0.1}}
    first = write_trec_run(run, tmp_path / "x.trec.gz", tag="m@1", k=3)
    lines = gzip.open(first, "rt").read().splitlines()
    assert lines == ["q1 Q0 c 1 0.9 m@1", "q1 Q0 b 2 0.5 m@1", "q1 Q0 a 3 0.5 m@1"]
    again = write_trec_run(run, tmp_path / "y.trec.gz", tag="m@1", k=3)
    assert first.read_bytes() == again.read_bytes()


def test_refuses_to_overwrite_and_to_write_unparseable_fields(tmp_path: Path) -> None:
    target = write_trec_run({"q": {"d": 1.0}}, tmp_path / "r.trec.gz", tag="t")
    with pytest.raises(FileExistsError):
        write_trec_run({"q": {"d": 1.0}}, target, tag="t")
    with pytest.raises(DataError, match="whitespace"):
        write_trec_run({"q 1": {"d": 1.0}}, tmp_path / "s.trec.gz", tag="t")
    with pytest.raises(DataError, match="not finite"):
        write_trec_run({"q": {"d": float("nan")}}, tmp_path / "u.trec.gz", tag="t")
    assert not (tmp_path / "s.trec.gz").exists() and not (tmp_path / "u.trec.gz").exists()


def test_bad_files_give_one_line_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.trec"
    bad.write_text("q1 Q0 d1 1 0.5 tag\nq1 Q0 d2 two 0.4 tag\n")
    with pytest.raises(DataError, match=r"bad\.trec: item 'line 2'"):
        read_trec_run(bad)
    truncated = tmp_path / "t.trec.gz"
    truncated.write_bytes(gzip.compress(b"q1 Q0 d1 1 0.5 tag\n" * 50)[:30])
    with pytest.raises(DataError, match="cannot read"):
        read_trec_run(truncated)
    not_mteb = tmp_path / "T_predictions.json"
    not_mteb.write_text("[]")
    with pytest.raises(DataError, match="not an mteb predictions file"):
        runs_from_predictions(not_mteb, tmp_path / "out")
    assert not (tmp_path / "out").exists()
