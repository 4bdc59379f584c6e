"""``hybrid-bench mine-negatives``: add translation-aware hard negatives to parallel training data.

Thin command-line layer over :func:`hybrid_bench.training.mining.mine_negatives` (sentence-transformers'
``util.mine_hard_negatives``; a passage of the same item, in any language, is never a negative).
"""

from __future__ import annotations

import argparse

EPILOG = """examples:
  hybrid-bench mine-negatives --data train.jsonl --output train.negatives.jsonl            # retriever: me5-small
  hybrid-bench mine-negatives --data xquad-r-train --mode cross --output xquad.neg.jsonl --model my-model
  hybrid-bench train --data train.negatives.jsonl --out hybrid-mined                       # then train on it

The output is the parallel format (id, lang, query, positive, negative), one record per item and language.
"""


def add_parser(subparsers: argparse._SubParsersAction, name: str, help: str) -> None:
    from hybrid_bench.commands.validate import positive_int

    parser = subparsers.add_parser(name, help=help, description=__doc__.splitlines()[0], epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, metavar="SOURCE",
                        help="xquad-r-train, PATH.jsonl, PATH.parquet or an mMARCO-style folder")
    parser.add_argument("--output", required=True, metavar="PATH.jsonl", help="where to write the mined data")
    parser.add_argument("--model", default="me5-small", help="the retriever: a model name or folder (default: %(default)s)")
    parser.add_argument("--mode", choices=("mono", "cross"), default="mono",
                        help="query and negative in one language, or the query in another language of the item")
    parser.add_argument("--languages", nargs="+", metavar="LANG", default=None, help="only these languages")
    parser.add_argument("--candidates", type=positive_int, default=10,
                        help="top passages considered per query (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="chooses the cross-lingual query language")
    parser.add_argument("--data-dir", default=None, help="local LAReQA data folder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hybrid_bench.errors import HybridBenchError
    from hybrid_bench.models.bases import resolve_base
    from hybrid_bench.training.base_model import load_base_model
    from hybrid_bench.training.mining import mine_negatives
    from hybrid_bench.training.parallel_data import load_parallel_data

    if Path(args.output).exists() and not args.overwrite:
        raise HybridBenchError(f"{args.output} already exists; pass --overwrite to replace it")
    corpus = load_parallel_data(args.data, languages=args.languages, data_dir=args.data_dir)
    model = load_base_model(resolve_base(args.model))
    mined = mine_negatives(corpus, model, mode=args.mode, candidates=args.candidates, seed=args.seed,
                           show_progress_bar=args.verbose, progress=True)
    print(mined.save(args.output, overwrite=args.overwrite))
    return 0
