"""``hybrid-bench mteb ...``: mteb's own command line, with hybrid-bench's tasks, models and mirrors registered.

Everything after ``mteb`` goes to mteb's CLI untouched (``hybrid_bench.cli`` hands it over before its own argument
parsing), so ``hybrid-bench mteb run -m hybrid-xlmr -t XQuADRRetrieval -l deu`` is exactly
``mteb run -m hybrid-xlmr -t XQuADRRetrieval -l deu``. The plain ``mteb`` command does the same when the import
hook is active (the default); this pass-through is the explicit way, and the one that still works with
``HYBRID_BENCH_NO_MTEB_HOOK=1``.

Example::

    from hybrid_bench.commands.mteb_passthrough import run_mteb

    run_mteb(["available-tasks", "-t", "XQuADRRetrieval"])   # 0
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hybrid_bench.errors import HybridBenchError

EPILOG = """examples:
  hybrid-bench mteb run -m me5-small -t XQuADRRetrieval -l deu --output-folder results
  hybrid-bench mteb run -m hybrid-me5-small -t XQuADRHeldOutRetrieval MLQARRetrieval --output-folder results
  HYBRID_BENCH_MIRRORS="mteb/MIRACLRetrieval=../shared/data/miracl-lite" \\
      hybrid-bench mteb run -m me5-small -t MIRACLRetrieval -l swa --output-folder results
  hybrid-bench mteb available-tasks -t XQuADRRetrieval MLQARRetrieval
  hybrid-bench mteb --help                     # mteb's own help

With hybrid-bench installed the stock `mteb` command sees the same tasks and models (an import hook registers
them); set HYBRID_BENCH_NO_MTEB_HOOK=1 to switch that off and use this command instead.
"""


def run_mteb(argv: list[str]) -> int:
    """Register hybrid-bench with mteb, then run mteb's CLI ``main`` on ``argv``; returns the exit status.

    A hybrid-bench error (a model that is not trained yet, a language missing from a mirror) prints one line and
    returns 1.
    """
    from hybrid_bench.mteb_plugin import register

    try:
        register()
        from mteb.cli import build_cli

        saved_argv = sys.argv
        sys.argv = ["mteb", *argv]  # mteb's main() parses sys.argv itself
        try:
            build_cli.main()
        finally:
            sys.argv = saved_argv
    except HybridBenchError as err:
        print(f"hybrid-bench mteb: error: {err}", file=sys.stderr)
        return 1
    except SystemExit as exit_:  # argparse --help / usage errors inside mteb
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point when reached through argparse (``hybrid-bench mteb`` is normally intercepted before that)."""
    return run_mteb(list(args.mteb_args))


def add_parser(subparsers: Any, name: str, help: str) -> None:  # noqa: A002, ANN401 -- argparse's own names
    """Add the ``mteb`` sub-command (documentation only: its arguments belong to mteb)."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mteb_args", nargs=argparse.REMAINDER, help="arguments for mteb's CLI (see `mteb --help`)")
    parser.set_defaults(func=run)
