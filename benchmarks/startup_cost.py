"""Start-up cost of hybrid-bench's mteb import hook: ``python -c pass`` with and without the package.

hybrid-bench installs ``hybrid_bench_hook.pth`` (plus, for ``pip install -e .``, setuptools' own
``__editable__.hybrid_bench-*.pth``), and every Python process of the environment runs those lines at start-up, even
one that never imports mteb. This script measures what that costs.

What is compared, all in the same run, interleaved round by round so that load from other processes on the machine
hits every variant alike:

* ``without``: the environment *minus* hybrid-bench. A throw-away venv (same base interpreter, ``--without-pip``)
  whose site-packages holds a path entry for this environment's site-packages and copies of all of its ``.pth``
  files *except* hybrid-bench's (read from the installed distribution's ``RECORD``). Every other package's
  start-up code (setuptools' ``distutils-precedence.pth``, ...) therefore still runs, so the difference to
  ``with`` is hybrid-bench alone. (Uninstalling the package from a shared venv to measure it would break everyone
  else's runs; ``python -S`` would also drop every other ``.pth`` file and so overstate the cost.)
* ``with``: the same throw-away venv plus copies of hybrid-bench's ``.pth`` files: the package installed as it is
  in this environment. With ``--wheel dist/hybrid_bench-*.whl`` the throw-away venv gets that wheel instead
  (``pip install --no-deps --no-index``), i.e. what users of a released package get.
* ``with, hook off``: as ``with``, under ``HYBRID_BENCH_NO_MTEB_HOOK=1`` (the ``.pth`` line still runs, but
  ``_hybrid_bench_hook`` is not imported).

Each variant runs ``python -c pass`` ``--repeat`` times; the medians and their ratios to ``without`` are printed,
and each variant is also checked to have left ``mteb`` unimported (``-c`` code that asserts it, timed separately,
once). Wall-clock time of a whole process is what a user waits for, so that is what is timed.

Run it with the environment's own interpreter::

    .venv/bin/python benchmarks/startup_cost.py --repeat 200

Example output (2 CPU cores shared with other jobs, so absolute times are inflated and noisy; numbers vary from
machine to machine)::

    $ python benchmarks/startup_cost.py --repeat 100 --wheel dist/hybrid_bench-0.1.0-py3-none-any.whl
    python -c pass, 100 runs per variant, interleaved (median / mean ms); hybrid-bench wheel hybrid_bench-0.1.0-...
      without           46.78 /  48.01
      with              47.99 /  50.20   ratio 1.026
      with, hook off    48.03 /  49.88   ratio 1.027

    $ python benchmarks/startup_cost.py --repeat 100        # this checkout, installed with `pip install -e .`
    python -c pass, 100 runs per variant, interleaved (median / mean ms); hybrid-bench installed as in this ...
      without           48.27 /  49.15
      with             121.13 / 122.19   ratio 2.510
      with, hook off   107.87 / 107.68   ratio 2.235

Reading it: from a wheel, the hook costs about a millisecond (within the noise: hook on and off are equal). An
editable install costs far more, and not because of the hook: ``with, hook off`` minus ``without`` is setuptools'
editable finder (``__editable___hybrid_bench_*_finder``, which imports ``pathlib`` and ``importlib.util`` at
start-up because this flat layout cannot be put on ``sys.path`` as a folder; ``python -X importtime -c pass`` shows
it), and ``with`` minus ``with, hook off`` includes importing ``_hybrid_bench_hook`` *through* that finder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from importlib import metadata
from pathlib import Path

HOOK_OFF = {"HYBRID_BENCH_NO_MTEB_HOOK": "1"}
CHECK_NO_MTEB = "import sys; assert 'mteb' not in sys.modules, 'mteb was imported at start-up'"


def _hybrid_bench_pth_files() -> list[Path]:
    """hybrid-bench's ``.pth`` files at the top of site-packages, from the installed distribution's RECORD."""
    try:
        dist = metadata.distribution("hybrid-bench")
    except metadata.PackageNotFoundError:
        sys.exit("hybrid-bench is not installed in this environment; run `pip install -e .` first")
    files = [Path(dist.locate_file(f)) for f in dist.files or [] if f.suffix == ".pth" and len(f.parts) == 1]
    if not any(f.name == "hybrid_bench_hook.pth" for f in files):
        sys.exit(f"hybrid_bench_hook.pth is not installed with hybrid-bench {dist.version}: nothing to measure")
    return files


def _make_env(root: Path, site_packages: Path, keep: list[Path], wheel: Path | None = None) -> Path:
    """A venv that sees ``site_packages`` and runs exactly the ``.pth`` files in ``keep`` (plus those of ``wheel``,
    installed into it); returns its python."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    target = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # path lines are processed in file-name order: "00-" puts the shared site-packages on sys.path before the
    # copied .pth files import anything from it
    (target / "00-shared-site-packages.pth").write_text(f"{site_packages}\n", encoding="utf-8")
    for pth in keep:
        shutil.copy2(pth, target / pth.name)
    if wheel is not None:
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
             str(wheel)],
            check=True,
        )
    return python


def _time_once(python: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(python), "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="runs of `python -c pass` per variant (default 200)")
    parser.add_argument("--wheel", type=Path, help="time this hybrid-bench wheel instead of the installed package")
    args = parser.parse_args(argv)
    if args.repeat < 5:
        parser.error("--repeat must be at least 5 for a meaningful median")
    if args.wheel is not None and not args.wheel.is_file():
        parser.error(f"--wheel {args.wheel}: no such file; build one with `pip wheel --no-deps -w dist .`")

    site_packages = Path(sysconfig.get_paths()["purelib"])
    ours = _hybrid_bench_pth_files()
    others = [p for p in sorted(site_packages.glob("*.pth")) if p not in ours]
    base_env = {k: v for k, v in os.environ.items() if k not in HOOK_OFF and k != "PYTHONPATH"}

    with tempfile.TemporaryDirectory(prefix="hb-startup-") as tmp:
        without = _make_env(Path(tmp) / "without", site_packages, others)
        if args.wheel is None:
            with_pkg = _make_env(Path(tmp) / "with", site_packages, others + ours)
        else:
            with_pkg = _make_env(Path(tmp) / "with", site_packages, others, wheel=args.wheel.resolve())
        variants = {
            "without": (without, base_env),
            "with": (with_pkg, base_env),
            "with, hook off": (with_pkg, base_env | HOOK_OFF),
        }
        # the hook must be active where expected, and no variant may import mteb
        for label, (python, env) in variants.items():
            subprocess.run([str(python), "-c", CHECK_NO_MTEB], env=env, check=True)
        probe = "import sys; print(any(type(f).__name__ == '_AfterImportFinder' for f in sys.meta_path))"
        active = {
            label: subprocess.check_output([str(py), "-c", probe], env=env, text=True).strip() == "True"
            for label, (py, env) in variants.items()
        }
        if active != {"without": False, "with": True, "with, hook off": False}:
            sys.exit(f"unexpected hook state per variant: {active}")

        for python, env in variants.values():  # warm the OS caches before timing
            _time_once(python, env)
        times: dict[str, list[float]] = {label: [] for label in variants}
        for _ in range(args.repeat):
            for label, (python, env) in variants.items():
                times[label].append(_time_once(python, env))

    reference = statistics.median(times["without"])
    installed = f"wheel {args.wheel.name}" if args.wheel else "installed as in this environment"
    print(f"python -c pass, {args.repeat} runs per variant, interleaved (median / mean ms); hybrid-bench {installed}")
    for label, values in times.items():
        median = statistics.median(values)
        ratio = "" if label == "without" else f"   ratio {median / reference:.3f}"
        print(f"  {label:<16} {median * 1e3:6.2f} / {statistics.fmean(values) * 1e3:6.2f}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
