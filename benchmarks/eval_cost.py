"""Encode-once check: full XQuAD-R evaluation wall time ÷ time to encode its unique texts once.

Both are measured in this one run, with the same model weights and batch size:

1. *encode*: every unique question (query prompt) and candidate sentence (document prompt) the evaluation needs,
   encoded once through mteb's encode path;
2. *evaluate*: ``mteb.evaluate`` of ``XQuADRRetrieval`` (all 132 settings, or those involving ``--languages``) with a
   fresh model object, so nothing is cached from step 1.

Target: ratio ≤ 1.15. A design that re-encodes per setting would be 10–100× off.

Examples:
  OMP_NUM_THREADS=2 python benchmarks/eval_cost.py                   # full XQuAD-R, me5-small (~20 min on 2 cores)
  OMP_NUM_THREADS=2 python benchmarks/eval_cost.py --languages deu --model me5-small
"""

from __future__ import annotations

import argparse
import tempfile
import time

import mteb
from mteb.types import PromptType

from hybrid_bench.evaluation import load_model, load_tasks, resolve_inference
from hybrid_bench.models.inference import add_arguments as add_inference_arguments
from hybrid_bench.tasks.encoding import encode_dataset, texts_dataset, use_persistent_cache
from hybrid_bench.tasks.lareqa import ISO3, POOL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="me5-small")
    parser.add_argument("--task", default="XQuADRRetrieval")
    parser.add_argument("--languages", nargs="+", default=None, help="ISO 639-3 codes (default: all settings)")
    parser.add_argument("--batch-size", type=int, default=64)
    add_inference_arguments(parser)
    args = parser.parse_args()
    use_persistent_cache(False)  # the evaluation must encode, not read step 1's texts back from disk
    inference = resolve_inference(args.model, args.backend, args.dtype)

    [task] = load_tasks([args.task], args.languages, None)
    task.load_data()
    data = task.lareqa_data
    by_code = {code.split("-")[0]: lang for lang, code in ISO3.items()}
    q_langs, c_langs = set(), set()
    for subset in task.hf_subsets:
        q, _, c = subset.partition("-")
        q_langs.add(by_code[q])
        c_langs |= set(data.langs) if c == POOL else {by_code[c]}
    queries = sorted({qu.text for lang in q_langs for qu in data.questions[lang]})
    docs = sorted({ca.text for lang in c_langs for ca in data.candidates[lang]})
    kwargs = {"batch_size": args.batch_size}

    model = load_model(args.model, inference=inference)
    start = time.perf_counter()
    for texts, prompt in ((queries, PromptType.query), (docs, PromptType.document)):
        encode_dataset(model, texts_dataset([str(i) for i in range(len(texts))], texts), prompt_type=prompt,
                       task_metadata=task.metadata, hf_split="test", hf_subset="default", encode_kwargs=kwargs)
    encode_s = time.perf_counter() - start

    model = load_model(args.model, inference=inference)  # fresh object → empty embedding cache
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        mteb.evaluate(model, [task], cache=mteb.cache.ResultCache(tmp), encode_kwargs=kwargs)
        eval_s = time.perf_counter() - start

    print(f"inference:               {inference.label}")
    print(f"settings evaluated:      {len(task.hf_subsets)}")
    print(f"unique texts:            {len(queries)} queries + {len(docs)} candidates")
    print(f"encode unique texts:     {encode_s:8.1f} s")
    print(f"full evaluation:         {eval_s:8.1f} s")
    print(f"ratio (evaluate/encode): {eval_s / encode_s:8.3f}   (target ≤ 1.15)")


if __name__ == "__main__":
    main()
