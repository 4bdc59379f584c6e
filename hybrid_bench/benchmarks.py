"""hybrid-bench's mteb benchmarks: ``mteb.get_benchmark(NAME)``, ``mteb run -b NAME``, ``Benchmark.load_results()``.

Three benchmarks are registered with mteb (by :func:`hybrid_bench.mteb_plugin.register`, i.e. on ``import mteb``):

* ``HybridBench(LAReQA)`` (alias ``hybrid-bench-lareqa``): XQuAD-R and MLQA-R with all their mono, cross and
  multilingual-pool settings, as LAReQA (Roy et al., 2020) defines them;
* ``HybridBench(LAReQA-settings)`` (alias ``hybrid-bench-lareqa-settings``): the same settings as one task per kind
  (``XQuADRMonoRetrieval``, ..., :mod:`hybrid_bench.tasks.lareqa_settings`), so mteb's per-task score is a mono,
  cross or multi mean;
* ``HybridBench(2408.10536)`` (alias ``hybrid-bench``): the research question of arXiv 2408.10536 as
  ``hybrid-bench reproduce`` evaluates it (:data:`hybrid_bench.experiment.presets.DEFAULT_TASKS`): held-out
  XQuAD-R articles, MLQA-R, MIRACL and the cross-lingual MIRACL variant.

Your own selections go in ``$HYBRID_BENCH_HOME/benchmarks.toml`` and are registered the same way::

    [benchmarks."my-german-check"]
    description = "German settings of the held-out XQuAD-R articles"
    tasks = ["XQuADRHeldOutRetrieval"]
    hf_subsets = ["deu-deu", "deu-eng", "deu-pool"]   # optional: these settings only
    # languages = ["deu"]                             # optional: mteb's language filter (ISO 639-3)

then ``mteb run -b my-german-check -m me5-small``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.paths import home_dir

__all__ = ["LAREQA_BENCHMARK", "LAREQA_SETTINGS_BENCHMARK", "RESEARCH_BENCHMARK", "benchmark_specs", "build_benchmarks", "user_benchmarks_file"]

LAREQA_BENCHMARK = "HybridBench(LAReQA)"
LAREQA_SETTINGS_BENCHMARK = "HybridBench(LAReQA-settings)"
RESEARCH_BENCHMARK = "HybridBench(2408.10536)"

_PAPER_BIBTEX = r"""@article{elmahdy2024synergistic,
  author = {Elmahdy, Adel and Lin, Sheng-Chieh and Ahmad, Amin},
  journal = {arXiv preprint arXiv:2408.10536},
  title = {Synergistic Approach for Simultaneous Optimization of Monolingual, Cross-lingual, and Multilingual
Information Retrieval},
  year = {2024},
}"""

_LAREQA_BIBTEX = r"""@inproceedings{roy-etal-2020-lareqa,
  author = {Roy, Uma and Constant, Noah and Al-Rfou, Rami and Barua, Aditya and Phillips, Aaron and Yang, Yinfei},
  booktitle = {Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  pages = {5919--5930},
  title = {{LAReQA}: Language-Agnostic Answer Retrieval from a Multilingual Pool},
  year = {2020},
}"""


def _research_tasks() -> list[str]:
    from hybrid_bench.experiment.presets import DEFAULT_TASKS

    return list(DEFAULT_TASKS)


def benchmark_specs() -> dict[str, dict[str, Any]]:
    """The built-in benchmarks and those of ``$HYBRID_BENCH_HOME/benchmarks.toml`` (which may replace them)."""
    specs: dict[str, dict[str, Any]] = {
        LAREQA_BENCHMARK: {
            "aliases": ["hybrid-bench-lareqa"],
            "tasks": ["XQuADRRetrieval", "MLQARRetrieval"],
            "description": (
                "LAReQA's language-agnostic answer retrieval: XQuAD-R (11 languages) and MLQA-R (7 languages), every "
                "mono X→X, cross X→Y and multilingual-pool setting, scored by mAP over the full candidate pool; pool "
                "settings also report language bias (rank distance)."
            ),
            "reference": "https://github.com/google-research-datasets/lareqa",
            "citation": _LAREQA_BIBTEX,
        },
        LAREQA_SETTINGS_BENCHMARK: {
            "aliases": ["hybrid-bench-lareqa-settings"],
            "tasks": [f"{data}{kind}Retrieval" for data in ("XQuADR", "MLQAR") for kind in ("Mono", "Cross", "Multi")],
            "description": (
                "The settings of HybridBench(LAReQA) as one task per kind of setting (mono X→X, cross X→Y, "
                "multilingual pool), so that mteb's per-task score is LAReQA's mono, cross or multi mAP rather than "
                "a mean over all settings dominated by the cross ones."
            ),
            "reference": "https://github.com/google-research-datasets/lareqa",
            "citation": _LAREQA_BIBTEX,
        },
        RESEARCH_BENCHMARK: {
            "aliases": ["hybrid-bench"],
            "tasks": _research_tasks(),
            "description": (
                "The evaluation of arXiv 2408.10536's research question (does hybrid mono/cross-lingual batch "
                "training hurt domain-specific retrieval?): the held-out half of XQuAD-R's articles and MLQA-R "
                "(zero-shot for models trained on XQuAD-R's other half), MIRACL (monolingual) and MIRACL with a "
                "mixed-language corpus. What `hybrid-bench reproduce` evaluates."
            ),
            "reference": "https://arxiv.org/abs/2408.10536",
            "citation": _PAPER_BIBTEX + "\n\n" + _LAREQA_BIBTEX,
        },
    }
    specs.update(_read_user_file(user_benchmarks_file()))
    return specs


def user_benchmarks_file() -> Path:
    """``$HYBRID_BENCH_HOME/benchmarks.toml``."""
    return home_dir() / "benchmarks.toml"


_KEYS = {"tasks", "description", "reference", "citation", "aliases", "hf_subsets", "languages"}


def _read_user_file(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("benchmarks", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise HybridBenchError(f"{path}: not valid TOML ({err})") from None
    specs = {}
    for name, spec in table.items():
        unknown = set(spec) - _KEYS
        if unknown or not isinstance(spec.get("tasks"), list) or not spec["tasks"]:
            raise HybridBenchError(f"{path}: benchmark {name!r} needs a non-empty list `tasks`"
                                   + (f"; unknown keys {sorted(unknown)} (known: {sorted(_KEYS)})" if unknown else ""))
        specs[name] = {"description": f"{name} (user benchmark from {path})", **spec}
    return specs


def build_benchmarks() -> list[Any]:
    """mteb ``Benchmark`` objects of :func:`benchmark_specs` (needs hybrid-bench's tasks registered with mteb)."""
    import mteb

    out = []
    for name, spec in benchmark_specs().items():
        try:
            tasks = mteb.get_tasks(tasks=spec["tasks"], languages=spec.get("languages"))
        except KeyError as err:
            raise HybridBenchError(f"benchmark {name!r}: {err}") from None
        if spec.get("hf_subsets"):
            tasks = [task.filter_languages(None, hf_subsets=spec["hf_subsets"]) for task in tasks]
        out.append(mteb.Benchmark(
            name=name, aliases=spec.get("aliases"), tasks=tasks, description=spec["description"],
            reference=spec.get("reference"), citation=spec.get("citation"),
        ))
    return out
