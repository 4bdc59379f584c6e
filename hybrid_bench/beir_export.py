"""Write any setting of a hybrid-bench (or mteb retrieval) task in BEIR's ``GenericDataLoader`` layout.

BEIR tools - BM25 through pyserini, FlagEmbedding, beir's own ``EvaluateRetrieval`` - read a folder with
``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv``
(``query-id``, ``corpus-id``, ``score``). :func:`export_beir` writes one such folder per task setting (mteb subset),
from exactly the data the task scores (``task.dataset[subset][split]``: for the LAReQA tasks the selection of
:func:`hybrid_bench.tasks.settings.lareqa_setting`, for the MIRACL tasks the pooled corpus with ids
``<lang>:<docid>``), with beir's own writers (``beir.util.write_to_json`` / ``write_to_tsv``):

* LAReQA (``XQuADRRetrieval``, ``XQuADRHeldOutRetrieval``, ``MLQARRetrieval``): mono ``deu-deu``, cross ``deu-eng``
  and the multilingual pool ``deu-pool``; candidate ids ``<lang>:<article>:<paragraph>:<sentence>``;
* MIRACL: ``MIRACLRetrieval`` / ``MIRACLMonolingualRetrieval`` per language (``sw``), and
  ``MIRACLCrossLingualRetrieval``'s mixed-language pools (``sw-mono``, ``sw-all``, ``de-train``); MIRACL's judgments
  keep their scores (0 = judged non-relevant).

The folder also gets ``README.md`` and ``hybrid_bench_export.json`` that say what it is: task, settings, split,
dataset revision, licence, citation. **Licences travel with the data**: MLQA-R is CC BY-NC 4.0 (non-commercial
use only), XQuAD-R CC BY-SA 4.0, MIRACL Apache-2.0 with CC BY-SA Wikipedia passages.

Example::

    from hybrid_bench.beir_export import export_beir
    from beir.datasets.data_loader import GenericDataLoader

    export_beir("MLQARRetrieval", "beir/mlqa-r-ara-deu", subsets=["ara-deu"])
    corpus, queries, qrels = GenericDataLoader("beir/mlqa-r-ara-deu").load(split="test")
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.io import atomic_path

__all__ = ["EXPORT_RECORD", "export_beir", "load_task"]

#: machine-readable description of an export, beside the BEIR files
EXPORT_RECORD = "hybrid_bench_export.json"


def load_task(name: str, subsets: Sequence[str] | None = None) -> Any:  # noqa: ANN401 -- an mteb AbsTask
    """The registered mteb task ``name`` (hybrid-bench's tasks and mirrors registered), restricted to ``subsets``."""
    import mteb

    from hybrid_bench.mteb_plugin import register

    register()
    try:
        task = mteb.get_task(name)
    except KeyError as err:
        raise HybridBenchError(f"unknown task {name!r}: {err}") from None
    if subsets:
        unknown = [s for s in subsets if s not in task.metadata.eval_langs]
        if unknown:
            known = list(task.metadata.eval_langs)
            raise HybridBenchError(f"{name} has no setting(s) {unknown}; its settings are e.g. {known[:6]} "
                                   f"({len(known)} in all)")
        task = task.filter_languages(None, hf_subsets=list(subsets))
    return task


def export_beir(task: str | Any, out: str | os.PathLike[str], *, subsets: Sequence[str] | None = None,  # noqa: ANN401
                overwrite: bool = False, progress: bool = True) -> list[Path]:
    """Export settings of ``task`` (a registered task name or an mteb task object) to BEIR folders under ``out``.

    Args:
        task: The task; an object is used as it is (its selected subsets, a sample set with ``set_sample``...).
        out: With one setting, the BEIR folder itself; with several, ``out/<subset>/`` each.
        subsets: The settings (mteb subsets) to export; default all the task has selected.
        overwrite: Replace an existing ``out`` (never done silently).
        progress: One progress bar over the settings.

    Returns:
        The BEIR folders written. ``out`` appears complete or not at all.
    """
    from beir.util import write_to_json, write_to_tsv
    from tqdm.auto import tqdm

    out = Path(out)
    if out.exists() and not overwrite:
        raise HybridBenchError(f"{out} already exists; refusing to overwrite it (use --overwrite / overwrite=True)")
    if isinstance(task, str):
        task = load_task(task, subsets)
    elif subsets:
        task = task.filter_languages(None, hf_subsets=list(subsets))
    task.load_data()
    split = task.metadata.eval_splits[0]
    chosen = [s for s in task.hf_subsets if s in task.dataset]
    if not chosen:
        raise HybridBenchError(f"{task.metadata.name}: none of the settings {list(task.hf_subsets)[:6]} is loaded")
    single = len(chosen) == 1
    folders = []
    with atomic_path(out, overwrite=overwrite) as tmp:
        for subset in tqdm(chosen, desc=f"BEIR export {task.metadata.name}", disable=not progress or single):
            data = task.dataset[subset][split]
            folder = tmp if single else tmp / subset
            (folder / "qrels").mkdir(parents=True, exist_ok=True)
            corpus = {row["id"]: {"title": row.get("title") or "", "text": row["text"]} for row in data["corpus"]}
            write_to_json(str(folder / "corpus.jsonl"), corpus)
            write_to_json(str(folder / "queries.jsonl"), {row["id"]: row["text"] for row in data["queries"]})
            qrels = {q: docs for q, docs in data["relevant_docs"].items() if docs}
            write_to_tsv(str(folder / "qrels" / f"{split}.tsv"), qrels)
            folders.append(out if single else out / subset)
        _describe(task, tmp, chosen, split)
    return folders


def _describe(task: Any, folder: Path, subsets: list[str], split: str) -> None:  # noqa: ANN401
    meta = task.metadata
    licence = str(meta.license)
    record = {
        "task": meta.name, "subsets": subsets, "split": split, "dataset": meta.dataset,
        "license": licence, "reference": meta.reference, "task_settings": _task_settings(task),
        "layout": "BEIR GenericDataLoader: corpus.jsonl, queries.jsonl, qrels/<split>.tsv"
                  + ("" if len(subsets) == 1 else " in one folder per subset"),
    }
    (folder / EXPORT_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    notice = ""
    if "nc" in licence.lower().split("-"):
        notice = (f"\n**Licence: {licence} - non-commercial use only.** The texts are redistributed under the "
                  f"dataset's licence; respect it when you share or use this export.\n")
    lines = [
        f"# {meta.name} in BEIR format", "",
        f"Written by `hybrid-bench export beir`: {len(subsets)} setting(s) of `{meta.name}` "
        f"({', '.join(f'`{s}`' for s in subsets[:8])}{' ...' if len(subsets) > 8 else ''}), split `{split}`, "
        f"dataset `{meta.dataset.get('path')}` at revision `{meta.dataset.get('revision')}`.", notice,
        f"- Licence: {licence}", f"- Reference: {meta.reference}", "",
        "Load with `beir.datasets.data_loader.GenericDataLoader(folder).load(split=...)`; "
        f"`{EXPORT_RECORD}` records the same facts for programs.", "",
        "```bibtex", (meta.bibtex_citation or "").strip(), "```", "",
    ]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _task_settings(task: Any) -> dict[str, Any]:  # noqa: ANN401
    """The task options that change what is exported, for the record (LAReQA's candidate context: the corpus text
    is the sentence followed by its paragraph)."""
    context = getattr(task, "candidate_context", None)
    return {} if context is None else {"candidate_context": bool(context)}
