"""``hybrid-bench export beir``: write task settings in BEIR's GenericDataLoader layout (library:
:mod:`hybrid_bench.beir_export`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EPILOG = """examples:
  # one setting: the folder holds corpus.jsonl, queries.jsonl, qrels/test.tsv
  hybrid-bench export beir XQuADRRetrieval --subset deu-pool beir/xquad-r-deu-pool
  # every setting of a task, one sub-folder each (MLQA-R is CC BY-NC 4.0: non-commercial use only)
  hybrid-bench export beir MLQARRetrieval beir/mlqa-r
  # MIRACL's mixed-language pool for Swahili queries, from the local mirror
  HYBRID_BENCH_MIRRORS="mteb/MIRACLRetrieval=../shared/data/miracl-lite" \\
    hybrid-bench export beir MIRACLCrossLingualRetrieval --subset sw-all beir/miracl-sw-all
"""


def add_parser(subparsers: Any, name: str, help: str) -> None:
    p = subparsers.add_parser(name, help=help, description=__doc__.splitlines()[0], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    beir = formats.add_parser("beir", help="BEIR GenericDataLoader layout", description=__doc__.splitlines()[0],
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    beir.add_argument("task", metavar="TASK", help="mteb task name, e.g. XQuADRRetrieval, MIRACLCrossLingualRetrieval")
    beir.add_argument("out", type=Path, metavar="OUT", help="output folder (one setting) or parent of one per setting")
    beir.add_argument("--subset", action="append", default=None, metavar="S",
                      help="a setting (mteb subset) to export, e.g. deu-pool; repeat it for several; default: all")
    beir.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    beir.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hybrid_bench.beir_export import export_beir

    folders = export_beir(args.task, args.out, subsets=args.subset, overwrite=args.overwrite)
    print(f"{args.task}: {len(folders)} BEIR folder(s) under {args.out}; licence and source in {args.out}/README.md")
    return 0
