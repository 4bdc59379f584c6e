"""Probe of issue 23, item 1, end to end in fresh processes: two MIRACL mirrors with the same folder name, one
``HF_DATASETS_CACHE``, both orders, through ``hybrid-bench eval`` and the stock ``mteb run``.

The copy ``<work>/C/miracl-lite`` is the whole mirror with one ``yo-qrels`` judgment flipped from relevant to not
relevant (a query with a single relevant passage) and its ``SHA256SUMS`` regenerated. Every Yoruba positive is
among the 705 passages, so Recall@1000 is 1 on the official data and 16/17 on the copy whatever the model: a run
served the other folder's data shows it there, and in nDCG@10. Each run must record its own folder's label
(:func:`hybrid_bench.data.mirrors.mirror_revision`) and score its own folder's data; the two folders' labels
differ; nDCG@10 of a folder is the same in both orders.

Not collected by pytest (minutes, not seconds); run it by hand::

    python tests/probe_mirror_cache.py                    # tiny model, both CLIs (≈ 2 min on 2 cores)
    python tests/probe_mirror_cache.py --model me5-small  # the real base model (its store must hold it)
    python tests/probe_mirror_cache.py --cli eval --keep /tmp/probe

Exit status 0 when every check holds, 1 otherwise (each failed check printed on one line).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TINY = "hybrid-tiny"
REPO = "mteb/MIRACLRetrieval"


def make_copy(official: Path, work: Path) -> Path:
    """``work/C/miracl-lite``: ``official`` with one yo judgment flipped (a single-positive query), new SHA256SUMS."""
    import pandas as pd

    copy = work / "C" / official.name
    shutil.copytree(official, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared mirror is read-only
    qrels_file = copy / "yo-qrels" / "dev-00000-of-00001.parquet"
    qrels = pd.read_parquet(qrels_file)
    positives = qrels[qrels.score > 0]
    single = positives.groupby("query-id").filter(lambda g: len(g) == 1).index[0]
    qrels.loc[single, "score"] = 0
    qrels.to_parquet(qrels_file, index=False)
    listed = [line.split()[1] for line in (copy / "SHA256SUMS").read_text().splitlines() if line.strip()]
    (copy / "SHA256SUMS").write_text("".join(f"{hashlib.sha256((copy / rel).read_bytes()).hexdigest()}  {rel}\n"
                                             for rel in listed))
    return copy


def tiny_home(work: Path) -> Path:
    """A HYBRID_BENCH_HOME whose models.toml registers the tiny test model as ``hybrid-tiny``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_model import build_tiny_model

    home = work / "home"
    build_tiny_model(work / "tiny")
    shutil.copytree(work / "tiny" / "st", home / "models" / TINY)
    (home / "models.toml").write_text(
        f'[models.{TINY}]\nbase = "me5-small"\nstrategy = "hybrid"\nalpha = 0.5\nembed_dim = 32\nmax_tokens = 64\n'
        'training_datasets = ["XQuADRRetrieval"]\n', encoding="utf-8")
    return home


def evaluate(cli: str, model: str, folder: Path, cache: Path, out: Path, home: Path | None) -> dict:
    """One fresh-process run on ``folder`` as the MIRACL mirror; the result JSON."""
    env = {k: v for k, v in os.environ.items() if k != "HYBRID_BENCH_NO_MTEB_HOOK"}
    env.update(PYTHONPATH=str(ROOT), HYBRID_BENCH_MIRRORS=f"{REPO}={folder}", HF_DATASETS_CACHE=str(cache),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    if home is not None:
        env["HYBRID_BENCH_HOME"] = str(home)
    if cli == "eval":
        args = [str(BIN / "hybrid-bench"), "eval", "-m", model, "-t", "MIRACLRetrieval", "-l", "yor",
                "--output-folder", str(out), "--backend", "torch", "--dtype", "float32"]
    else:
        args = [str(BIN / "mteb"), "run", "-m", model, "-t", "MIRACLRetrieval", "-l", "yor", "--output-folder",
                str(out)]
    proc = subprocess.run(args, env=env, cwd=out.parent, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    files = sorted(out.rglob("MIRACLRetrieval.json"))
    if len(files) != 1:
        raise SystemExit(f"expected one MIRACLRetrieval.json under {out}, found {files}")
    return json.loads(files[0].read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help=f"model name (default: the tiny test model as {TINY})")
    parser.add_argument("--cli", nargs="+", choices=("eval", "mteb"), default=["eval", "mteb"])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("HYBRID_BENCH_DATA", ROOT.parent / "shared" /
                                                                         "data")), help="folder with miracl-lite/")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from hybrid_bench.data.mirrors import mirror_revision

    work = args.keep or Path(tempfile.mkdtemp(prefix="probe-mirror-cache-"))
    work.mkdir(parents=True, exist_ok=True)
    official = (args.data / "miracl-lite").resolve()
    copy = make_copy(official, work)
    home = tiny_home(work) if args.model is None else None
    model = args.model or TINY
    labels = {official: mirror_revision(official), copy: mirror_revision(copy)}
    expected_recall = {official: 1.0, copy: 16 / 17}
    failures = [] if labels[official] != labels[copy] else [f"both folders are labelled {labels[copy]}"]
    ndcg: dict[tuple[str, Path], set[float]] = {}
    for cli in args.cli:
        for order, folders in (("copy first", (copy, official)), ("official first", (official, copy))):
            cache = work / f"hf-cache-{cli}-{order.split()[0]}"  # one datasets cache per order, shared by both runs
            for folder in folders:
                result = evaluate(cli, model, folder, cache, work / f"out-{cli}-{order.split()[0]}-"
                                  f"{'copy' if folder == copy else 'official'}", home)
                scores = result["scores"]["dev"][0]
                which = "copy" if folder == copy else "official"
                print(f"{cli:5} {order:14} {which:8} {result['dataset_revision']}  nDCG@10 {scores['ndcg_at_10']:.5f}"
                      f"  Recall@1000 {scores['recall_at_1000']:.5f}")
                if result["dataset_revision"] != labels[folder]:
                    failures.append(f"{cli} {order}: {which} recorded {result['dataset_revision']}, "
                                    f"its files are {labels[folder]}")
                if abs(scores["recall_at_1000"] - expected_recall[folder]) > 1e-4:
                    failures.append(f"{cli} {order}: {which} scored the other folder's data (Recall@1000 "
                                    f"{scores['recall_at_1000']:.5f}, its own data gives {expected_recall[folder]:.5f})")
                ndcg.setdefault((cli, folder), set()).add(round(scores["ndcg_at_10"], 5))
    failures += [f"{cli}: {'copy' if f == copy else 'official'} scored {sorted(v)} in the two orders"
                 for (cli, f), v in ndcg.items() if len(v) > 1]
    for failure in failures:
        print(f"FAIL {failure}")
    print("all checks hold" if not failures else f"{len(failures)} check(s) failed", f"(work folder {work})")
    if args.keep is None and not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
