"""One mteb task per kind of LAReQA setting, so that mteb's own aggregate of a task is one of the paper's numbers.

mteb summarises a task by one number, the mean of ``main_score`` over the subsets it ran
(``TaskResult.get_score()``, the ``mteb`` leaderboards, ``Benchmark`` tables). Over all 132 settings of
``XQuADRRetrieval`` that mean is 11 mono + 110 cross + 11 pool settings weighted by count, so it is almost the cross
mean, and it is none of the numbers arXiv 2408.10536 or LAReQA report (they report the mono, cross and multi means
separately: :func:`hybrid_bench.tasks.lareqa.summarize`). The tasks here hold the settings of one kind each:

=============================  ===============================  ============================================
task                           settings (mteb ``hf_subsets``)   mteb's ``get_score()``
=============================  ===============================  ============================================
``XQuADRMonoRetrieval``        ``xxx-xxx`` (11)                 mono mAP, the paper's Table 1 "mono" cell
``XQuADRCrossRetrieval``       ``xxx-yyy``, x ≠ y (110)         cross mAP
``XQuADRMultiRetrieval``       ``xxx-pool`` (11)                multilingual-pool mAP
=============================  ===============================  ============================================

and the same for ``XQuADRHeldOut…`` (the held-out articles) and ``MLQAR…`` (7 + 42 + 7). Each is its parent task
restricted to those settings: same data, same scores per setting, and the texts reach the model with the parent's
metadata (:attr:`~hybrid_bench.tasks.lareqa._LAReQARetrieval.encode_as`), so a model's prompts and the shared
embedding cache treat them as the parent. Example::

    import mteb
    task = mteb.get_task("XQuADRMonoRetrieval")
    result = mteb.evaluate(mteb.get_model("me5-small"), task)
    print(result.task_results[0].get_score())   # mean mono mAP over the 11 languages
"""

from __future__ import annotations

from typing import Literal

from hybrid_bench.tasks.lareqa import MLQARRetrieval, XQuADRHeldOutRetrieval, XQuADRRetrieval, _LAReQARetrieval, setting_of

__all__ = ["SETTING_KINDS", "SETTING_TASKS", "setting_task"]

SettingKind = Literal["mono", "cross", "multi"]
#: the kinds of setting, as :func:`hybrid_bench.tasks.lareqa.setting_of` names them
SETTING_KINDS: tuple[SettingKind, ...] = ("mono", "cross", "multi")
_WHAT = {
    "mono": "mono settings only (questions and candidates in the same language, X→X)",
    "cross": "cross settings only (questions in X, candidates in one other language Y, X→Y)",
    "multi": "multilingual-pool settings only (questions in X against every language's candidates)",
}


def setting_task(base: type[_LAReQARetrieval], kind: SettingKind) -> type[_LAReQARetrieval]:
    """``base`` restricted to its settings of one ``kind``, as a task class of its own (named e.g.
    ``XQuADRMonoRetrieval``) whose mteb aggregate is the mean over those settings only."""
    name = f"{base.metadata.name.removesuffix('Retrieval')}{kind.capitalize()}Retrieval"
    subsets = {s: langs for s, langs in base.metadata.eval_langs.items() if setting_of(s) == kind}
    description = (f"{base.metadata.name} restricted to its {_WHAT[kind]}: {len(subsets)} settings, so that mteb's "
                   f"main score of a run (the mean mAP over its settings) is the {kind} mean reported by LAReQA and "
                   "arXiv 2408.10536. Same data, scores and encoding as " + base.metadata.name + ".")
    metadata = base.metadata.model_copy(update={
        "name": name, "description": description, "eval_langs": subsets, "adapted_from": [base.metadata.name],
    })
    cls = type(name, (base,), {
        "metadata": metadata, "encode_as": base.metadata, "setting_kind": kind, "__module__": __name__,
        "__qualname__": name, "__doc__": f"``{base.metadata.name}``'s {kind} settings as a task of their own.",
    })
    return cls


XQuADRMonoRetrieval = setting_task(XQuADRRetrieval, "mono")
XQuADRCrossRetrieval = setting_task(XQuADRRetrieval, "cross")
XQuADRMultiRetrieval = setting_task(XQuADRRetrieval, "multi")
XQuADRHeldOutMonoRetrieval = setting_task(XQuADRHeldOutRetrieval, "mono")
XQuADRHeldOutCrossRetrieval = setting_task(XQuADRHeldOutRetrieval, "cross")
XQuADRHeldOutMultiRetrieval = setting_task(XQuADRHeldOutRetrieval, "multi")
MLQARMonoRetrieval = setting_task(MLQARRetrieval, "mono")
MLQARCrossRetrieval = setting_task(MLQARRetrieval, "cross")
MLQARMultiRetrieval = setting_task(MLQARRetrieval, "multi")

#: every setting task, parent by parent, in :data:`SETTING_KINDS` order
SETTING_TASKS: tuple[type[_LAReQARetrieval], ...] = (
    XQuADRMonoRetrieval, XQuADRCrossRetrieval, XQuADRMultiRetrieval,
    XQuADRHeldOutMonoRetrieval, XQuADRHeldOutCrossRetrieval, XQuADRHeldOutMultiRetrieval,
    MLQARMonoRetrieval, MLQARCrossRetrieval, MLQARMultiRetrieval,
)
