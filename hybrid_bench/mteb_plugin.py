"""Register hybrid-bench's tasks, models and data mirrors in mteb's registries.

mteb 2.26 collects its tasks (``mteb.get_tasks._TASKS_REGISTRY`` / ``TASK_LIST``) and models
(``mteb.models.model_implementations.MODEL_REGISTRY``) once, at import, and has no plugin entry point. :func:`register`
adds to them in place, after which ``mteb.get_task("XQuADRRetrieval")``, ``mteb.get_model("hybrid-xlmr")`` and the
stock ``mteb run`` CLI see hybrid-bench like any built-in task or model:

* tasks: :data:`hybrid_bench.tasks.ALL_TASKS`;
* models: every name in the model table (:mod:`hybrid_bench.models.registry`) as ``hybrid-bench/<name>``; the short
  name (``hybrid-xlmr``) is accepted through mteb's alias table, so ``-m hybrid-xlmr`` works and the results still go
  to ``hybrid-bench__hybrid-xlmr/<revision>/``; ``HYBRID_BENCH_INFERENCE=openvino-bfloat16`` (or ``auto``) picks
  the inference backend and dtype, recorded in the revision (:mod:`hybrid_bench.models.inference`);
* mirrors: every registered task whose dataset repo id has a local mirror (:mod:`hybrid_bench.data.mirrors`) is
  replaced by a same-named subclass that loads from the mirror and records it as the dataset revision;
* benchmarks: :mod:`hybrid_bench.benchmarks` (``mteb.get_benchmark("HybridBench(LAReQA)")``, ``mteb run -b
  hybrid-bench``).

You rarely call this yourself: the ``hybrid_bench_hook.pth`` file installed with the package runs it right after
``import mteb`` (see :mod:`_hybrid_bench_hook`; ``HYBRID_BENCH_NO_MTEB_HOOK=1`` switches that off), and
``hybrid-bench mteb ...`` calls it before handing over to mteb's CLI. Registering twice is harmless.

Example::

    import mteb
    from hybrid_bench.mteb_plugin import register

    register()            # a no-op when the import hook already did it
    task = mteb.get_task("XQuADRRetrieval", languages=["deu"])
    meta = mteb.get_model_meta("me5-small")     # ModelMeta(name='hybrid-bench/me5-small', ...)
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

from hybrid_bench.errors import HybridBenchError

__all__ = ["on_import", "register", "register_benchmarks", "register_mirrors", "register_models", "register_tasks",
           "wrap_cli_main"]

logger = logging.getLogger(__name__)

_registering = False


_tasks_registered = False
_TASK_PACKAGE = "hybrid_bench.tasks"
#: the task package and the package its modules import: registering the tasks while a module of either is
#: mid-import would import that module circularly (e.g. `from hybrid_bench.data.miracl import X` imports mteb)
_DEFERRING = (_TASK_PACKAGE, "hybrid_bench.data")


def _tasks_mid_import(finished: str | None = None) -> bool:
    """True while the task package or one of its modules (other than ``finished``, whose import is completing) is
    mid-import: registering the tasks now would import it circularly."""
    return any(
        _mid_import(name) for name in list(sys.modules)
        if any(name == p or name.startswith(f"{p}.") for p in _DEFERRING) and name != finished
    )


def _mid_import(name: str) -> bool:
    """True while ``name`` is being imported (its module object exists but its code has not finished)."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and bool(getattr(spec, "_initializing", False))


def register_tasks() -> list[str]:
    """Add :data:`hybrid_bench.tasks.ALL_TASKS` to mteb's task registry; returns the task names."""
    global _tasks_registered
    mteb_tasks = importlib.import_module("mteb.get_tasks")  # `mteb.get_tasks` the attribute is the function

    from hybrid_bench.tasks import ALL_TASKS

    names = []
    for cls in ALL_TASKS:
        name = cls.metadata.name
        existing = mteb_tasks._TASKS_REGISTRY.get(name)
        if existing is not None and not issubclass(existing, cls) and existing.__module__.split(".")[0] == "mteb":
            raise HybridBenchError(f"hybrid-bench's task {name} clashes with mteb's own task of the same name")
        _replace_task(mteb_tasks, name, cls)
        for parent in cls.metadata.adapted_from or []:
            similar = mteb_tasks._SIMILAR_TASKS[parent]
            if name not in similar:
                similar.append(name)
        names.append(name)
    _tasks_registered = True
    return names


def _replace_task(mteb_tasks: ModuleType, name: str, cls: type) -> None:
    old = mteb_tasks._TASKS_REGISTRY.get(name)
    mteb_tasks._TASKS_REGISTRY[name] = cls
    # TASK_LIST is a tuple that get_tasks() reads at call time: rebind it rather than mutate it
    kept = tuple(t for t in mteb_tasks.TASK_LIST if t is not old and t.metadata.name != name)
    mteb_tasks.TASK_LIST = (*kept, cls)


def register_models() -> list[str]:
    """Add every model-table name to mteb's model registry (``hybrid-bench/<name>``, short name as alias)."""
    from mteb.models.get_model_meta import _MODEL_RENAMES
    from mteb.models.model_implementations import MODEL_REGISTRY

    from hybrid_bench.models.inference import INFERENCE_ENV, from_setting
    from hybrid_bench.models.registry import MODEL_ORG, model_metas

    # the configuration boundary for `mteb run -m`: HYBRID_BENCH_INFERENCE picks backend / dtype, recorded in the
    # revision that mteb hands to hybrid-bench's loader
    setting = os.environ.get(INFERENCE_ENV, "").strip()
    names = []
    for meta in model_metas():
        assert meta.name is not None
        if setting:
            choice = from_setting(setting, name=meta.name, revision=meta.revision)
            meta = meta.model_copy(update={"revision": choice.revision(meta.revision)})
        MODEL_REGISTRY[meta.name] = meta
        short = meta.name.removeprefix(f"{MODEL_ORG}/")
        # mteb's rename table maps a typed name to a registry name before the lookup; it is the one place that
        # lets `-m hybrid-xlmr` work without listing every model twice in mteb.get_model_metas()
        if short not in MODEL_REGISTRY:
            _MODEL_RENAMES[short] = meta.name
        names.append(meta.name)
    return names


def register_mirrors() -> list[str]:
    """Swap every registered task whose dataset has a configured local mirror for its mirrored subclass."""
    mteb_tasks = importlib.import_module("mteb.get_tasks")  # `mteb.get_tasks` the attribute is the function

    from hybrid_bench.data.mirrors import mirror_map, mirrored_task_class

    if not mirror_map():
        return []
    names = []
    for name, cls in list(mteb_tasks._TASKS_REGISTRY.items()):
        if getattr(cls, "mirror", None) is not None:  # already swapped
            continue
        mirrored = mirrored_task_class(cls)
        if mirrored is not None:
            _replace_task(mteb_tasks, name, mirrored)
            logger.info("%s will load from the local mirror %s", name, mirrored.mirror.folder)  # type: ignore[attr-defined]
            names.append(name)
    return names


def register_benchmarks() -> list[str]:
    """Add :func:`hybrid_bench.benchmarks.build_benchmarks` to mteb's benchmark registry; returns their names.

    mteb 2.26 collects every ``Benchmark`` object of the module ``mteb.benchmarks.benchmarks`` into a cached registry
    (``mteb.benchmarks.get_benchmark._build_registry``): the benchmarks are added to that module and the cache is
    cleared, so ``mteb.get_benchmark(name)`` and ``mteb run -b name`` find them. Needs the tasks registered.
    """
    module = importlib.import_module("mteb.benchmarks.benchmarks")
    registry = importlib.import_module("mteb.benchmarks.get_benchmark")

    from hybrid_bench.benchmarks import build_benchmarks

    names = []
    for benchmark in build_benchmarks():
        setattr(module, f"_hybrid_bench_{benchmark.name}", benchmark)
        names.append(benchmark.name)
    registry._build_registry.cache_clear()
    registry._build_aliases_registry.cache_clear()
    return names


def register(*, tasks: bool = True, models: bool = True, mirrors: bool = True) -> None:
    """Register hybrid-bench's tasks, models and mirrors with mteb (idempotent; imports mteb)."""
    global _registering
    _registering = True
    try:
        if models:
            register_models()
        # the task modules import mteb; if that import is what got us here, they finish (and register) later
        tasks_now = tasks and not _tasks_mid_import()
        if tasks_now:
            register_tasks()
        if mirrors:
            register_mirrors()
        if tasks_now:  # after the mirrors: a benchmark holds task instances of the (mirrored) registered classes
            register_benchmarks()
    finally:
        _registering = False


def wrap_cli_main(main: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap mteb's CLI ``main`` so hybrid-bench's errors (unknown model, missing mirror language...) print as one
    ``mteb: error: ...`` line with exit status 1 instead of a traceback; every other exception is untouched.

    The wrapper registers again before running (a no-op when the import hook already did): a broken user
    ``models.toml`` or ``HYBRID_BENCH_MIRRORS`` only warned during ``import mteb``, which must not fail for code
    that never uses hybrid-bench, but it has to stop a CLI run that would otherwise ignore it.
    """
    if getattr(main, "__hybrid_bench_wrapped__", False):
        return main

    @functools.wraps(main)
    def wrapped(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        try:
            register()
            return main(*args, **kwargs)
        except HybridBenchError as err:
            print(f"mteb: error: {err}", file=sys.stderr)
            raise SystemExit(1) from None

    wrapped.__hybrid_bench_wrapped__ = True  # type: ignore[attr-defined]
    return wrapped


def on_import(name: str, module: ModuleType) -> None:
    """Called by the import hook once the watched module ``name`` has finished importing.

    A failure here must not break ``import mteb`` for code that never uses hybrid-bench, so it becomes a warning
    that says how to switch the hook off.
    """
    try:
        if name == "mteb":
            register()
        elif name == "mteb.cli":
            module.main = wrap_cli_main(module.main)  # type: ignore[attr-defined]
        elif (name.startswith(tuple(f"{p}." for p in _DEFERRING)) and not _tasks_registered and not _registering
              and "mteb.get_tasks" in sys.modules and not _tasks_mid_import(finished=name)):
            register_tasks()
            register_mirrors()
            register_benchmarks()
    except Exception as err:  # noqa: BLE001 -- see docstring
        message = (
            f"hybrid-bench could not register its tasks and models with mteb ({type(err).__name__}: {err}). "
            "Set HYBRID_BENCH_NO_MTEB_HOOK=1 to stop trying."
        )
        # a warning, not a log record: it prints once whether or not logging is configured, and users can filter it
        warnings.warn(message, RuntimeWarning, stacklevel=2)
