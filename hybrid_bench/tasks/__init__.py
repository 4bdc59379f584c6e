"""hybrid-bench's MTEB tasks: XQuAD-R / MLQA-R (LAReQA), one task per LAReQA setting kind, and MIRACL variants.

``ALL_TASKS`` is what :mod:`hybrid_bench.mteb_plugin` registers with mteb. The package itself imports nothing
heavy: the task classes (and mteb) load on first access of ``ALL_TASKS`` or a task name (PEP 562), so
``hybrid_bench.tasks.metrics`` and ``hybrid_bench.tasks.scoring`` stay importable without mteb or torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

    from hybrid_bench.tasks.lareqa import MLQARRetrieval, XQuADRHeldOutRetrieval, XQuADRRetrieval

    ALL_TASKS: tuple[type[AbsTask], ...]

__all__ = ["ALL_TASKS", "MLQARRetrieval", "XQuADRHeldOutRetrieval", "XQuADRRetrieval"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 -- PEP 562 lazy attribute
    if name == "ALL_TASKS":
        from hybrid_bench.tasks.lareqa import LAREQA_TASKS
        from hybrid_bench.tasks.lareqa_settings import SETTING_TASKS
        from hybrid_bench.tasks.miracl import MIRACL_TASKS
        from hybrid_bench.tasks.miracl_train_topics import MIRACLTrainTopicsRetrieval

        return (*LAREQA_TASKS, *SETTING_TASKS, *MIRACL_TASKS, MIRACLTrainTopicsRetrieval)
    if name in ("MLQARRetrieval", "XQuADRHeldOutRetrieval", "XQuADRRetrieval"):
        from hybrid_bench.tasks import lareqa

        return getattr(lareqa, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
