"""Run several ``hybrid-bench`` command lines in ONE Python process, as the console script would run each.

Used by ``tests/test_bad_input.py`` so that the command lines that import torch / mteb share one start-up (several
seconds each) instead of paying it per case. Each case gets its own environment, working directory, stderr and exit
status; an exception escaping ``hybrid_bench.cli.main`` is printed as the interpreter would (a traceback) and
counts as exit status 1, exactly what the console script would show the user.

Usage: ``python cli_driver.py CASES.json`` where the file holds ``[{"argv": [...], "env": {...}, "cwd": "..."}]``;
prints a JSON list of ``{"rc": int, "stderr": str}``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import traceback


def run_case(argv: list[str], env: dict[str, str], cwd: str) -> dict[str, object]:
    from hybrid_bench.cli import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(env)
    os.chdir(cwd)
    root = logging.getLogger()
    for handler in list(root.handlers):  # let the CLI's logging.basicConfig write to this case's stderr
        root.removeHandler(handler)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                rc = int(main(argv) or 0)
            except SystemExit as exit_:
                rc = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:  # noqa: BLE001 - what the interpreter would print for the user
                traceback.print_exc()
                rc = 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return {"rc": rc, "stderr": err.getvalue()}


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        cases = json.load(handle)
    print(json.dumps([run_case(c["argv"], c["env"], c["cwd"]) for c in cases]))
