"""hybrid-bench's MTEB tasks: XQuAD-R / MLQA-R (LAReQA) and MIRACL's cross-lingual variant.

``ALL_TASKS`` is what :mod:`hybrid_bench.mteb_plugin` registers with mteb; importing this package imports mteb.
"""

from __future__ import annotations

from mteb.abstasks import AbsTask

from hybrid_bench.tasks.lareqa import LAREQA_TASKS, MLQARRetrieval, XQuADRHeldOutRetrieval, XQuADRRetrieval


def _miracl_tasks() -> tuple[type[AbsTask], ...]:
    try:
        from hybrid_bench.tasks.miracl import MIRACL_TASKS
    except ImportError as err:  # the MIRACL module is optional while it is being built
        if "hybrid_bench.tasks.miracl" not in str(err):
            raise
        return ()
    return tuple(MIRACL_TASKS)


ALL_TASKS: tuple[type[AbsTask], ...] = (*LAREQA_TASKS, *_miracl_tasks())

__all__ = ["ALL_TASKS", "MLQARRetrieval", "XQuADRHeldOutRetrieval", "XQuADRRetrieval"]
