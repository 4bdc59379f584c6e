"""Bad input through the real command lines: one error line naming the culprit, no traceback, nothing written.

Table-driven (issue 12): every case is a ``hybrid-bench`` command line on a bad input built in a temporary folder.
Each must exit non-zero with exactly one line on stderr that contains the expected text (the file / item / option
and what is wrong), no traceback, and leave every result, checkpoint, model and leaderboard folder as it was.
Progress log records of level INFO (e.g. "MIRACLRetrieval will load from the local mirror ...") are the normal
run's log, not part of the error, and are not counted; a WARNING or ERROR record is.

Cases that import torch / mteb run in one process per group through ``tests/cli_driver.py`` (the start-up costs
several seconds); option errors, which argparse reports before anything heavy is imported, run as plain
subprocesses of the console entry point.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Case:
    """One bad command line: ``argv`` (``{tmp}`` / ``{tiny}`` are filled in), the text its error line must hold."""

    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    group: str = "light"  # cases of one group share a process (see cli_driver.py); "light" = own subprocess
    env: dict[str, str] = field(default_factory=dict)


TRAIN = ("train", "--base", "{tiny}", "--steps", "2", "--out", "bad")
EVAL = ("eval", "--output-folder", "{tmp}/out", "-t", "XQuADRRetrieval")

CASES = [
    # option values: refused by argparse before any work (exit status 2)
    Case("train --lr -1", (*TRAIN, "--data", "{tmp}/ok.jsonl", "--lr", "-1"), ("--lr", "must be a number > 0")),
    Case("train --scale 0", (*TRAIN, "--data", "{tmp}/ok.jsonl", "--scale", "0"), ("--scale", "> 0")),
    # a batch of one gives the loss no in-batch negative: loss 0, nothing learnt; refused before any work
    Case("train --batch-size 1", (*TRAIN, "--data", "{tmp}/ok.jsonl", "--batch-size", "1"),
         ("batch_size must be at least 2", "in-batch negatives")),
    Case("train --warmup-ratio 5", (*TRAIN, "--data", "{tmp}/ok.jsonl", "--warmup-ratio", "5"),
         ("--warmup-ratio", "between 0 and 1")),
    Case("train --batch-size 0", (*TRAIN, "--data", "{tmp}/ok.jsonl", "--batch-size", "0"),
         ("--batch-size", "positive integer")),
    Case("eval --batch-size 0", (*EVAL, "-m", "{tiny}", "--batch-size", "0"), ("--batch-size", "positive integer")),
    Case("eval --max-seq-length 0", (*EVAL, "-m", "{tiny}", "--max-seq-length", "0"),
         ("--max-seq-length", "positive integer")),
    Case("reproduce --steps 0", ("reproduce", "--quick", "--steps", "0", "--output-folder", "{tmp}/out"),
         ("--steps", "positive integer")),
    Case("reproduce --output-folder not writable", ("reproduce", "--quick", "--output-folder", "{tmp}/a-file/r"),
         ("--output-folder", "a-file is a file")),
    # broken model store folders: `models path` fails (so scripts/setup.sh rebuilds), naming the file
    Case("models path, weights missing", ("models", "path", "me5-small"), ("no weights file", "me5-small"),
         env={"HYBRID_BENCH_HOME": "{tmp}/home-noweights"}),
    Case("models path, weights truncated", ("models", "path", "me5-small"),
         ("me5-small/model.safetensors is damaged or truncated",), env={"HYBRID_BENCH_HOME": "{tmp}/home-truncated"}),
    Case("models path, bad config", ("models", "path", "me5-small"), ("config.json is not valid JSON",),
         env={"HYBRID_BENCH_HOME": "{tmp}/home-badconfig"}),
    # unwritable places, found before the work
    Case("eval --output-folder not writable", ("eval", "--output-folder", "{tmp}/a-file/out", "-m", "{tiny}"),
         ("--output-folder", "a-file is a file")),
    Case("train, home not writable", (*TRAIN, "--data", "{tmp}/ok.jsonl"), ("HYBRID_BENCH_HOME", "is a file"),
         env={"HYBRID_BENCH_HOME": "{tmp}/a-file/home"}),
    # training data, detected before the model loads
    Case("train, JSONL not UTF-8", (*TRAIN, "--data", "{tmp}/latin1.jsonl"), ("latin1.jsonl", "line 2", "not UTF-8"),
         group="train"),
    Case("train, one language and alpha < 1", (*TRAIN, "--data", "{tmp}/one-lang.jsonl", "--batch-size", "2"),
         ("one-lang.jsonl", "alpha < 1 needs cross-lingual rows", "only language(s): en"), group="train"),
    Case("train, fewer items than the batch", (*TRAIN, "--data", "{tmp}/ok.jsonl", "--batch-size", "64"),
         ("ok.jsonl", "only 6 items", "64"), group="train"),
    Case("train, a language with too few items", (*TRAIN, "--data", "{tmp}/short-es.jsonl", "--strategy", "mono",
                                                  "--batch-size", "4"),
         ("short-es.jsonl", "{'es': 2}", "fewer monolingual items"), group="train"),
    Case("train --languages en xx", (*TRAIN, "--data", "{tmp}/ok.jsonl", "--languages", "en", "xx"),
         ("ok.jsonl", "['xx'] asked for but absent", "['de', 'en', 'es']"), group="train"),
    # models and data for evaluation, detected before the model loads
    Case("eval -m unknown name offline", (*EVAL, "--hf-subsets", "eng-eng", "-m", "no-such-model"),
         ("unknown model 'no-such-model'", "offline"), group="eval"),
    Case("eval -m broken folder", (*EVAL, "--hf-subsets", "eng-eng", "-m", "{tmp}/home-truncated/models/me5-small"),
         ("model.safetensors is damaged or truncated",), group="eval"),
    Case("eval -m store name with broken folder", (*EVAL, "--hf-subsets", "eng-eng", "-m", "me5-small"),
         ("broken model folder", "config.json is not valid JSON"), group="eval",
         env={"HYBRID_BENCH_HOME": "{tmp}/home-badconfig"}),
    Case("eval, LAReQA file fails its sha256", (*EVAL, "--hf-subsets", "deu-deu", "-m", "{tiny}",
                                                "--data-dir", "{tmp}/lareqa-modified"),
         ("xquad-r/de.json", "differs from the pinned", "--allow-modified-data"), group="eval"),
    Case("eval, language file is a folder", (*EVAL, "--hf-subsets", "tha-tha", "-m", "{tiny}",
                                             "--data-dir", "{tmp}/lareqa-folder"),
         ("xquad-r/th.json", "is not a file"), group="eval"),
    Case("eval, language file missing offline", (*EVAL, "--hf-subsets", "tha-tha", "-m", "{tiny}",
                                                 "--data-dir", "{tmp}/lareqa-modified"),
         ("th.json", "offline (HF_HUB_OFFLINE=1)"), group="eval", env={"HYBRID_BENCH_HOME": "{tmp}/home-empty"}),
    # a damaged local mirror (one process: mirrors are registered once per process)
    Case("mirror, truncated parquet", ("eval", "--output-folder", "{tmp}/out", "-t", "MIRACLRetrieval", "-l", "swa",
                                       "-m", "{tiny}"),
         ("sw-corpus/dev-00000-of-00001.parquet", "not a readable parquet file"), group="mirror",
         env={"HYBRID_BENCH_MIRRORS": "mteb/MIRACLRetrieval={tmp}/mirror"}),
    Case("mirror, renamed column", ("eval", "--output-folder", "{tmp}/out", "-t", "MIRACLRetrieval", "-l", "yor",
                                    "-m", "{tiny}"),
         ("yo-queries/dev-00000-of-00001.parquet", "missing column(s) ['text']"), group="mirror",
         env={"HYBRID_BENCH_MIRRORS": "mteb/MIRACLRetrieval={tmp}/mirror"}),
    Case("mirror, file fails its SHA256SUMS", ("eval", "--output-folder", "{tmp}/out", "-t", "MIRACLRetrieval", "-l",
                                               "swa", "-m", "{tiny}"),
         ("mirror-sums/sw-qrels/dev-00000-of-00001.parquet", "does not match", "SHA256SUMS"), group="mirror-sums",
         env={"HYBRID_BENCH_MIRRORS": "mteb/MIRACLRetrieval={tmp}/mirror-sums"}),
    Case("mirror, README names no data", ("eval", "--output-folder", "{tmp}/out", "-t", "MIRACLRetrieval", "-l",
                                          "swa", "-m", "{tiny}"),
         ("no README.md: a mirror names its configs",), group="mirror-empty",
         env={"HYBRID_BENCH_MIRRORS": "mteb/MIRACLRetrieval={tmp}/home-empty"}),
    # a damaged result found by the leaderboard's submission check
    Case("leaderboard, malformed result JSON", ("leaderboard", "{tmp}/results-bad", "--out", "{tmp}/board"),
         ("XQuADRRetrieval.json", "not a valid result JSON"), group="leaderboard"),
    Case("leaderboard, result JSON of another schema", ("leaderboard", "{tmp}/results-schema", "--out", "{tmp}/board"),
         ("XQuADRRetrieval.json", "not an MTEB task result", "'task_name' and 'scores'"), group="leaderboard"),
    Case("leaderboard, result JSON is a list", ("leaderboard", "{tmp}/results-list", "--out", "{tmp}/board"),
         ("XQuADRRetrieval.json", "holds a JSON list"), group="leaderboard"),
    Case("leaderboard --no-submission-check, another schema",
         ("leaderboard", "{tmp}/results-schema", "--out", "{tmp}/board", "--no-submission-check"),
         ("XQuADRRetrieval.json", "not an MTEB task result"), group="leaderboard"),
    # HYBRID_BENCH_HOME naming a file: one line, not a NotADirectoryError through the model loader
    Case("models path, home is a file", ("models", "path", "me5-small"),
         ("HYBRID_BENCH_HOME=", "a-file is a file, not a folder"), env={"HYBRID_BENCH_HOME": "{tmp}/a-file"}),
    Case("eval -m store name, home is a file", (*EVAL, "--hf-subsets", "eng-eng", "-m", "me5-small"),
         ("HYBRID_BENCH_HOME=", "a-file is a file, not a folder"), group="eval",
         env={"HYBRID_BENCH_HOME": "{tmp}/a-file"}),
]


def _records(langs: dict[str, int]) -> list[dict[str, str]]:
    return [{"id": f"q{i}", "lang": lang, "query": f"question {i} {lang}", "positive": f"answer {i} {lang}"}
            for lang, n in langs.items() for i in range(n)]


def _jsonl(path: Path, records: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _broken_store(home: Path, tiny: Path, damage: str) -> None:
    folder = home / "models" / "me5-small"
    shutil.copytree(tiny, folder)
    weights = folder / "model.safetensors"
    if damage == "noweights":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    else:
        (folder / "config.json").write_text('{"model_type": "bert", ', encoding="utf-8")


def _inputs(tmp: Path, tiny: Path, shared: Path) -> None:
    _jsonl(tmp / "ok.jsonl", _records({"en": 6, "de": 6, "es": 6}))
    _jsonl(tmp / "one-lang.jsonl", _records({"en": 6}))
    _jsonl(tmp / "short-es.jsonl", _records({"en": 6, "de": 6, "es": 2}))
    (tmp / "latin1.jsonl").write_bytes(
        b'{"id": "q1", "lang": "de", "query": "a", "positive": "b"}\n'
        + '{"id": "q2", "lang": "de", "query": "Grüße", "positive": "b"}\n'.encode("latin-1"))
    (tmp / "a-file").write_text("not a folder")
    for damage in ("noweights", "truncated", "badconfig"):
        _broken_store(tmp / f"home-{damage}", tiny, damage)
    (tmp / "home-empty").mkdir()
    xquad = shared / "lareqa" / "xquad-r"
    for name in ("lareqa-modified", "lareqa-folder"):
        folder = tmp / name / "lareqa" / "xquad-r"
        folder.mkdir(parents=True)
        for lang in ("de", "en"):
            (folder / f"{lang}.json").symlink_to(xquad / f"{lang}.json")
    modified = tmp / "lareqa-modified" / "lareqa" / "xquad-r" / "de.json"
    modified.unlink()
    modified.write_text((xquad / "de.json").read_text(encoding="utf-8").replace("Panthers", "Panther", 1),
                        encoding="utf-8")
    (tmp / "lareqa-folder" / "lareqa" / "xquad-r" / "th.json").mkdir()
    for kind in ("corpus", "queries", "qrels"):  # a mirror with a truncated sw corpus and a renamed yo column
        for lang in ("sw", "yo"):
            src = shared / "miracl-lite" / f"{lang}-{kind}" / "dev-00000-of-00001.parquet"
            (tmp / "mirror" / f"{lang}-{kind}").mkdir(parents=True)
            shutil.copyfile(src, tmp / "mirror" / f"{lang}-{kind}" / src.name)
    configs = "".join(f"- config_name: {lang}-{kind}\n  data_files:\n  - split: dev\n    path: {lang}-{kind}/dev-*\n"
                      for lang in ("sw", "yo") for kind in ("corpus", "queries", "qrels"))
    (tmp / "mirror" / "README.md").write_text(f"---\nconfigs:\n{configs}---\n", encoding="utf-8")
    corpus = tmp / "mirror" / "sw-corpus" / "dev-00000-of-00001.parquet"
    corpus.write_bytes(corpus.read_bytes()[: corpus.stat().st_size // 2])
    queries = tmp / "mirror" / "yo-queries" / "dev-00000-of-00001.parquet"
    pd.read_parquet(queries).rename(columns={"text": "question"}).to_parquet(queries, index=False)
    sums = tmp / "mirror-sums"  # sw only, with a SHA256SUMS, then one judgement dropped from the qrels
    shutil.copytree(tmp / "mirror", sums, ignore=shutil.ignore_patterns("yo-*"))
    for kind in ("corpus", "qrels"):
        shutil.copyfile(shared / "miracl-lite" / f"sw-{kind}" / "dev-00000-of-00001.parquet",
                        sums / f"sw-{kind}" / "dev-00000-of-00001.parquet")
    (sums / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.relative_to(sums).as_posix()}\n"
        for f in sorted(sums.glob("sw-*/*.parquet"))))
    qrels = sums / "sw-qrels" / "dev-00000-of-00001.parquet"
    pd.read_parquet(qrels).iloc[1:].to_parquet(qrels, index=False)
    revision = tmp / "results-bad" / "results" / "hybrid-bench__me5-small" / "local-0123456789ab"
    revision.mkdir(parents=True)
    (revision / "model_meta.json").write_text('{"name": "hybrid-bench/me5-small"}', encoding="utf-8")
    (revision / "XQuADRRetrieval.json").write_text('{"dataset_revision": "9bc8c7f", "sco', encoding="utf-8")
    for name, text in (("results-schema", '{"foo": 1, "scores": [1, 2]}'), ("results-list", "[]")):
        other = tmp / name / revision.relative_to(tmp / "results-bad")
        other.mkdir(parents=True)
        shutil.copyfile(revision / "model_meta.json", other / "model_meta.json")
        (other / "XQuADRRetrieval.json").write_text(text, encoding="utf-8")


def _snapshot(tmp: Path) -> dict[str, str]:
    """Every file under ``tmp`` (symlinks as their target) with a content hash; caches of file hashes excluded."""
    out = {}
    for path in sorted(tmp.rglob("*")):
        rel = path.relative_to(tmp).as_posix()
        if "/cache/" in f"/{rel}" or path.is_dir():
            continue
        out[rel] = os.readlink(path) if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


_INFO_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|DEBUG) ")


def _fill(text: str, tmp: Path, tiny: Path) -> str:
    return text.replace("{tmp}", str(tmp)).replace("{tiny}", str(tiny))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, shared_data: Path) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("bad-input")
    _inputs(tmp, tiny_model_dir, shared_data)
    before = _snapshot(tmp)
    base_env = {
        "PYTHONPATH": str(ROOT), "HYBRID_BENCH_HOME": str(tmp / "home"), "HYBRID_BENCH_DATA": str(shared_data),
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false", "HYBRID_BENCH_MIRRORS": "",
    }
    results: dict[str, dict] = {}
    groups: dict[str, list[Case]] = {}
    for case in CASES:
        groups.setdefault(case.id if case.group == "light" else case.group, []).append(case)
    for name, cases in groups.items():
        specs = [{"argv": [_fill(a, tmp, tiny_model_dir) for a in c.argv], "cwd": str(tmp),
                  "env": {k: _fill(v, tmp, tiny_model_dir) for k, v in {**base_env, **c.env}.items()}} for c in cases]
        if cases[0].group == "light":
            spec = specs[0]
            done = subprocess.run([sys.executable, "-m", "hybrid_bench.cli", *spec["argv"]], cwd=tmp,
                                  env={**os.environ, **spec["env"]}, capture_output=True, text=True, timeout=300)
            outs = [{"rc": done.returncode, "stderr": done.stderr}]
        else:
            job = tmp / f"cases-{name}.json"
            job.write_text(json.dumps(specs))
            done = subprocess.run([sys.executable, str(HERE / "cli_driver.py"), str(job)], cwd=tmp,
                                  env={**os.environ, **base_env}, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr[-3000:]
            outs = json.loads(done.stdout.strip().splitlines()[-1])
            job.unlink()
        results.update({c.id: o for c, o in zip(cases, outs)})
    results["__changed__"] = {"files": sorted(set(_snapshot(tmp).items()) ^ set(before.items()))}
    return results


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_one_line_error(outcomes: dict[str, dict], case: Case, tiny_model_dir: Path) -> None:
    outcome = outcomes[case.id]
    lines = [line for line in outcome["stderr"].splitlines() if line.strip() and not _INFO_RECORD.match(line)]
    assert outcome["rc"] != 0, outcome["stderr"]
    assert "Traceback" not in outcome["stderr"], outcome["stderr"]
    assert len(lines) == 1, outcome["stderr"]
    assert "error:" in lines[0]
    for text in case.expect:
        assert _fill(text, Path("/"), tiny_model_dir) in lines[0], lines[0]


def test_nothing_written(outcomes: dict[str, dict]) -> None:
    assert outcomes["__changed__"]["files"] == []
