"""The ``hybrid-bench`` command line: one sub-command per module in :mod:`hybrid_bench.commands`.

Each command module exposes ``add_parser(subparsers)``; modules are imported lazily so that
``hybrid-bench --help`` stays fast and a broken optional dependency only affects its own command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (command name, module under hybrid_bench.commands, one-line help)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("eval", "eval", "evaluate a model on hybrid-bench tasks through mteb and print the summary table"),
    ("models", "models", "build, list and locate models (me5-small, trained models)"),
    ("train", "train", "fine-tune a retriever with mono / cross / hybrid batches"),
    ("mine-negatives", "mine_negatives", "add translation-aware hard negatives to parallel training data"),
    ("leaderboard", "leaderboard", "tables, confidence intervals and plots from an MTEB results folder"),
    ("reproduce", "reproduce", "the paper's experiment end to end: train, evaluate, leaderboard"),
    ("plan-study", "plan_study", "seeds and queries a comparison needs: variance components and power from a run"),
    ("export", "export", "write task settings in BEIR's GenericDataLoader layout"),
    ("encode", "encode", "encode tasks' corpora into the embedding cache, sharded over processes (torchrun)"),
    ("cache", "cache", "show or clear the persistent embedding cache"),
    ("mteb", "mteb_passthrough", "run the stock `mteb` CLI with hybrid-bench's tasks and models registered"),
)

EPILOG = """examples:
  hybrid-bench eval -m me5-small -t XQuADRRetrieval MLQARRetrieval -l deu eng
  hybrid-bench models build me5-small
  hybrid-bench train --base me5-small --strategy hybrid --alpha 0.5 --steps 300 --out hybrid-me5-small
  hybrid-bench leaderboard results/ --out leaderboards/mine
  hybrid-bench reproduce --quick
  hybrid-bench plan-study leaderboards/reproduce-seeded/per_query --compare hybrid-me5-small:mono-me5-small
  hybrid-bench export beir XQuADRRetrieval --subset deu-pool beir/xquad-r-deu-pool
"""


def build_parser() -> argparse.ArgumentParser:
    from hybrid_bench.commands.validate import OneLineParser

    # one-line errors for bad options in every sub-command (sub-parsers inherit the class)
    parser = OneLineParser(
        prog="hybrid-bench",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the libraries' log lines and progress bars, and hybrid-bench's debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        try:
            mod = importlib.import_module(f"hybrid_bench.commands.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"hybrid_bench.commands.{module}":
                raise
            continue  # command not shipped in this build
        mod.add_parser(sub, name=name, help=help_text)
    return parser


#: exit status of a run stopped by Ctrl-C (SIGINT), as shells report it (128 + signal 2)
EXIT_INTERRUPTED = 130

INTERRUPTED_MESSAGE = ("hybrid-bench: interrupted; finished results are on disk and nothing half-written was kept "
                       "(writes are atomic): rerun the same command to continue")


_RERUN = {"train": "rerun with --resume to continue from the last complete checkpoint"}


def _file_error_line(err: OSError, command: str | None = None) -> str:
    """One line for a failed file operation: what failed, on which file, and what to do (``command``: the
    subcommand that failed, for the way to rerun it)."""
    where = f" {err.filename}" if err.filename else ""
    if disk_full(err):
        return (f"no space left on the device writing{where}; free space (or point --output-folder / --out / "
                f"HYBRID_BENCH_HOME elsewhere) and {_RERUN.get(command or '', 'rerun')}: nothing half-written was kept")
    if isinstance(err, PermissionError):
        return f"permission denied on{where}; make it writable or choose another folder ({err.strerror})"
    return f"{err.strerror or err}{':' + where if where else ''}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hybrid-bench`` command line; returns the exit status (0 ok, 1 error, 2 usage, 130 Ctrl-C).

    Errors caused by the user's input or machine (:class:`~hybrid_bench.errors.HybridBenchError`, a full disk, a
    permission denied) and Ctrl-C print one line instead of a traceback; anything else is a bug and keeps its
    traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print(f"\n{INTERRUPTED_MESSAGE}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except HybridBenchError as err:
        print(f"hybrid-bench: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if not (disk_full(err) or isinstance(err, (PermissionError, NotADirectoryError, IsADirectoryError))):
            raise
        print(f"hybrid-bench: error: {_file_error_line(err, argv[0] if argv else None)}", file=sys.stderr)
        return 1
    except Exception as err:
        if not disk_full(err):
            raise
        print("hybrid-bench: error: no space left on the device writing the model's weights (safetensors: "
              f"{err}); free space and rerun: nothing half-written was kept", file=sys.stderr)
        return 1


def _run(argv: list[str]) -> int:
    if argv[:1] == ["mteb"]:
        # pass everything after `mteb` through untouched (argparse would eat `-m`, `-t`, ...)
        from hybrid_bench.commands.mteb_passthrough import run_mteb

        return run_mteb(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    from hybrid_bench.display import configure

    configure(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


from hybrid_bench.errors import HybridBenchError  # noqa: E402
from hybrid_bench.io import disk_full  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
