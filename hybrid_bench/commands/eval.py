"""``hybrid-bench eval``: run models on hybrid-bench (and stock mteb) tasks through mteb and print a summary.

Results go to MTEB's results-folder layout (``<output>/results/<model>/<revision>/<Task>.json``); per-query values
for significance tests go to ``<output>/predictions/<model>__<revision>/``. Existing results are reused, never
overwritten, unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from hybrid_bench.commands.validate import check_writable, positive_int
from hybrid_bench.models.inference import add_arguments as add_inference_arguments

logger = logging.getLogger(__name__)

EPILOG = """examples:
  # the base model on both LAReQA datasets, all settings (≈ 17 min on 2 CPU cores)
  hybrid-bench eval -m me5-small -t XQuADRRetrieval MLQARRetrieval
  # German and English settings only (subsets involving deu or eng), local data copy
  hybrid-bench eval -m me5-small -t XQuADRRetrieval -l deu eng --data-dir ../shared/data
  # a trained model on the held-out XQuAD-R articles, into a chosen results folder
  hybrid-bench eval -m hybrid-me5-small -t XQuADRHeldOutRetrieval --output-folder results/
  # the reference computation (torch float32) instead of the fastest gated choice
  hybrid-bench eval -m me5-small -t XQuADRHeldOutRetrieval --backend torch --dtype float32
"""


def add_parser(subparsers: Any, name: str, help: str) -> None:
    p = subparsers.add_parser(
        name, help=help, description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("-m", "--model", required=True, help="model name (see `hybrid-bench models list`) or a local folder")
    p.add_argument("-t", "--tasks", nargs="+", default=["XQuADRRetrieval", "MLQARRetrieval"],
                   help="mteb task names (default: XQuADRRetrieval MLQARRetrieval)")
    p.add_argument("-l", "--languages", nargs="+", default=None,
                   help="ISO 639-3 codes; keeps the settings that involve any of them (e.g. deu eng)")
    p.add_argument("--hf-subsets", nargs="+", default=None, help="run only these settings, e.g. eng-eng eng-pool")
    p.add_argument("--output-folder", type=Path, default=Path("results"), help="results root (default: ./results)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="local data copy (containing lareqa/); default: $HYBRID_BENCH_DATA, then the user cache")
    p.add_argument("--allow-modified-data", action="store_true",
                   help="evaluate on local LAReQA files that fail their pinned sha256 (refused otherwise); results are "
                   "then filed under the data's own hash (dataset revision modified:<hash>), never as the benchmark's")
    p.add_argument("--batch-size", type=positive_int, default=64, help="encoding batch size (default 64)")
    p.add_argument("--max-seq-length", type=positive_int, default=None, metavar="N",
                   help="cut inputs at N tokens when encoding (default: the model's own limit, 512 for me5-small); "
                   "MIRACL passages dominate CPU time")
    p.add_argument("--overwrite", action="store_true", help="recompute and replace existing results")
    add_inference_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_writable(args.output_folder, "--output-folder")  # before the work, not after it
    import mteb

    from hybrid_bench.data.mirrors import check_task_mirror
    from hybrid_bench.display import encode_bar, texts_encoded
    from hybrid_bench.evaluation import (
        cap_max_seq_length,
        effective_max_seq_length,
        load_model,
        load_tasks,
        planned_texts,
        prediction_folder,
        resolve_inference,
    )
    from hybrid_bench.result_store import ResultStore, result_settings
    from hybrid_bench.tasks.lareqa import _LAReQARetrieval, summarize
    from hybrid_bench.tasks.shared_embeddings import share_embeddings

    tasks = load_tasks(args.tasks, args.languages, args.hf_subsets, data_dir=args.data_dir,
                       allow_modified_data=args.allow_modified_data)
    for task in tasks:  # bad or missing data fails here, before the model loads
        if isinstance(task, _LAReQARetrieval):
            task.load_data()  # about a second; mteb keeps the loaded data
        else:
            check_task_mirror(task)  # a local mirror's files, without loading them (no-op without a mirror)
    inference = resolve_inference(args.model, args.backend, args.dtype)
    print(f"{args.model}: inference {inference.label}")
    model = load_model(args.model, inference=inference)
    max_seq_length = effective_max_seq_length(model, args.max_seq_length)  # a cap at the model's own limit is none
    cap_max_seq_length(model, max_seq_length)
    # inference backend / dtype are part of the model's revision; the other score-changing settings go here
    cache = ResultStore(args.output_folder, settings=result_settings(max_seq_length=max_seq_length))
    cache.check_reuse(tasks, model.mteb_model_meta, overwrite=args.overwrite)
    start = time.perf_counter()
    # one task at a time: a stock task that encodes a hybrid-bench task's documents shares their embeddings
    # one task result (JSON + prediction files) is one locked unit: see ResultStore.task_unit
    predictions = prediction_folder(args.output_folder, model)
    meta = model.mteb_model_meta
    # the bar's total: the texts of the tasks without a result yet, less those the embedding cache holds
    pending = [t for t in tasks if args.overwrite
               or not Path(cache.get_task_result_path(t.metadata.name, meta.name, meta.revision)).is_file()]
    task_results = []
    encoded = texts_encoded()
    with encode_bar(planned_texts(pending, model), desc=f"{args.model}: encoding") as bar:
        for task in tasks:
            bar.set_postfix_str(task.metadata.name)
            with cache.task_unit(task, meta, prediction_folder=predictions, overwrite=args.overwrite):
                task_results += mteb.evaluate(
                    share_embeddings(model, task.metadata.name),
                    [task],
                    cache=cache,
                    prediction_folder=predictions,
                    overwrite_strategy="always" if args.overwrite else "only-missing",
                    # one bar, ours; mteb's per-task and sentence-transformers' per-call bars only with --verbose
                    show_progress_bar=args.verbose,
                    encode_kwargs={"batch_size": args.batch_size, "show_progress_bar": args.verbose},
                ).task_results
    wall = time.perf_counter() - start
    encoded = texts_encoded() - encoded
    rate = f", {encoded / wall:.1f} texts/s" if encoded and wall > 0 else ""
    print(f"\n{args.model}: results in {args.output_folder / 'results'} ({wall:.0f} s; {encoded:,} texts "
          f"encoded{rate})")
    lareqa = {t.metadata.name for t in tasks if isinstance(t, _LAReQARetrieval)}
    header = f"{'task':<24} {'mono mAP':>9} {'cross mAP':>9} {'multi mAP':>9} {'bias':>8}"
    rows = []
    for task_result in task_results:
        if task_result.task_name not in lareqa:
            rows.append(f"{task_result.task_name:<24} main score {task_result.get_score():.4f}")
            continue
        for split, scores in task_result.scores.items():
            cells = summarize({s["hf_subset"]: s for s in scores})
            fmt = lambda k, spec: format(cells[k], spec) if k in cells else "-"  # noqa: E731
            rows.append(f"{task_result.task_name:<24} {fmt('mono', '9.4f'):>9} {fmt('cross', '9.4f'):>9} "
                        f"{fmt('multi', '9.4f'):>9} {fmt('bias', '8.1f'):>8}")
    print(header)
    print("\n".join(rows))
    return 0
