"""Registers hybrid-bench's tasks, models and data mirrors with mteb right after ``import mteb`` finishes.

mteb 2.26 builds its task and model registries when it is imported and has no plugin entry point, so a stock
``mteb run -m hybrid-xlmr -t XQuADRRetrieval`` could never see hybrid-bench. The installed file
``hybrid_bench_hook.pth`` runs :func:`install` at interpreter start-up (the way setuptools'
``distutils-precedence.pth`` installs its shim); :func:`install` only puts a small finder at the front of
``sys.meta_path``. Nothing else happens - mteb and hybrid-bench are *not* imported - until some code imports
``mteb``; then, once mteb's own ``__init__`` has run, :func:`hybrid_bench.mteb_plugin.on_import` registers
everything. The finder also watches ``mteb.cli`` (to print hybrid-bench's errors as one line instead of a
traceback) and the modules of ``hybrid_bench.tasks`` (the tasks register as soon as none of them is mid-import, in
case one was when mteb finished).

Switch it off with the environment variable ``HYBRID_BENCH_NO_MTEB_HOOK=1`` (the ``.pth`` line checks it before
importing this module); then register explicitly with ``hybrid_bench.mteb_plugin.register()`` or run
``hybrid-bench mteb ...``.

This module is imported in every Python process of the environment, so it imports nothing beyond ``sys`` and
keeps :func:`install` to a few microseconds; ``benchmarks/startup_cost.py`` measures it.
"""

from __future__ import annotations

import sys

DISABLE_ENV = "HYBRID_BENCH_NO_MTEB_HOOK"
WATCHED = ("mteb", "mteb.cli")
# every module of the task package (which loads its task modules lazily, PEP 562): the tasks register once no
# module of it is mid-import, since registering imports them
# (and of the data package the task modules import: `from hybrid_bench.data.miracl import ...` as a program's first
# import imports mteb mid-way, and the tasks can register only once that module has finished)
WATCHED_PREFIX = ("hybrid_bench.tasks.", "hybrid_bench.data.")


class _RunAfterExec:
    """Loader proxy: runs the wrapped loader's ``exec_module``, then the hybrid-bench callback.

    The module gets its real loader back (``__loader__`` / ``__spec__.loader``) before its code runs, so nothing
    inside or after the import sees this proxy.
    """

    def __init__(self, loader: object, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: object) -> object:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: object) -> None:
        module.__spec__.loader = self._loader  # type: ignore[attr-defined]
        module.__loader__ = self._loader  # type: ignore[attr-defined]
        self._loader.exec_module(module)  # type: ignore[attr-defined]
        try:
            from hybrid_bench.mteb_plugin import on_import
        except ImportError as err:
            if err.name == "hybrid_bench":  # hybrid-bench was uninstalled but its .pth file was left behind
                return
            import warnings  # a broken installation: say so rather than leave mteb silently without our tasks

            warnings.warn(
                f"hybrid-bench's mteb import hook could not load hybrid_bench.mteb_plugin ({err}); reinstall "
                f"hybrid-bench, or set {DISABLE_ENV}=1 to switch the hook off",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        on_import(self._name, module)

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)


class _AfterImportFinder:
    """``sys.meta_path`` finder that wraps the loaders of the watched modules, once each."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._pending = set(names)
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        watched = fullname in self._pending or fullname.startswith(WATCHED_PREFIX)
        if not watched or fullname in self._busy:
            return None
        self._busy.add(fullname)  # the search below must not find this finder again
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        self._pending.discard(fullname)
        spec.loader = _RunAfterExec(spec.loader, fullname)
        return spec


def install() -> None:
    """Put the finder at the front of ``sys.meta_path`` (idempotent). Called by ``hybrid_bench_hook.pth``."""
    if any(isinstance(finder, _AfterImportFinder) for finder in sys.meta_path):
        return
    if "mteb" in sys.modules:  # too late to watch the import: register now
        from hybrid_bench.mteb_plugin import register

        register()
        return
    sys.meta_path.insert(0, _AfterImportFinder(WATCHED))
