"""A small OpenVINO path for sentence-transformers encoders: the transformer runs in OpenVINO, the rest stays ST.

sentence-transformers' own ``backend="openvino"`` needs ``optimum-intel``, which does not resolve beside torch 2.13
CPU and transformers 5 (it pulls torch 2.14 with CUDA and transformers 5.5; ``[onnx]`` pins transformers 4.57 and
sentence-transformers 5.7). ``openvino`` itself installs cleanly, so this module converts the Hugging Face model
inside a loaded :class:`~sentence_transformers.SentenceTransformer` with :func:`openvino.convert_model` and swaps
it for :class:`OpenVINOModel`, a ``torch.nn.Module`` that returns the same ``last_hidden_state``. Tokenisation,
prompts, truncation, pooling and normalisation stay sentence-transformers' own, so ``model.encode`` and mteb's
``SentenceTransformerEncoderWrapper`` work unchanged.

Speed (OpenVINO's CPU guide, measured in ``benchmarks/encode_throughput.py``): ``INFERENCE_PRECISION_HINT=bf16`` on
CPUs with AVX512-BF16/AMX, ``PERFORMANCE_HINT=THROUGHPUT`` with an :class:`openvino.AsyncInferQueue` of the compiled
model's optimal number of requests, and each batch that sentence-transformers hands over (already length-sorted)
split into sub-batches of :data:`SUB_BATCH` trimmed to their own longest input.

Ctrl-C: while OpenVINO runs, Python's own SIGINT handling is unreliable (the main thread waits inside OpenVINO, and
a Ctrl-C arriving then was observed to be lost: encoding ran on to the end). :meth:`OpenVINOModel.forward`
therefore notes SIGINT itself (:func:`_sigint_noted`), waits for requests with timeouts instead of OpenVINO's
blocking waits, and raises :class:`KeyboardInterrupt` within one sub-batch, after the requests already started.

The converted model (``openvino_model.xml`` / ``.bin``) is cached in a folder the caller names (the model store,
keyed by the model's revision, see :func:`hybrid_bench.models.inference.converted_dir`) and written atomically.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.io import atomic_path

__all__ = ["SUB_BATCH", "OpenVINOModel", "convert", "use_openvino"]

logger = logging.getLogger(__name__)

#: rows per OpenVINO request: small length-homogeneous batches keep padding low and both streams busy
SUB_BATCH = 8
XML = "openvino_model.xml"
_PRECISION = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}
#: seconds between checks for Ctrl-C while waiting for OpenVINO
_POLL_S = 0.05


@contextlib.contextmanager
def _sigint_noted() -> Iterator[threading.Event]:
    """While the body runs, a SIGINT sets the yielded event instead of raising somewhere inside OpenVINO (where it
    can be lost); the previous handler is back afterwards. Outside the main thread, or when the program installed its
    own SIGINT handler, nothing changes (the event is never set)."""
    noted = threading.Event()
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield noted
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: noted.set())
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def convert(hf_model: torch.nn.Module, folder: Path) -> Path:
    """Convert ``hf_model`` (a transformers encoder) to OpenVINO IR in ``folder`` unless it is there already."""
    import openvino as ov

    xml = folder / XML
    if xml.is_file() and xml.with_suffix(".bin").is_file():
        return xml
    logger.info("converting %s to OpenVINO (once; cached in %s)", type(hf_model).__name__, folder)
    example = {name: torch.ones((2, 8), dtype=torch.long) for name in ("input_ids", "attention_mask")}
    with torch.no_grad():
        model = ov.convert_model(hf_model.eval(), example_input=example)
    with atomic_path(folder, overwrite=True) as tmp:
        tmp.mkdir(parents=True)
        ov.save_model(model, tmp / XML, compress_to_fp16=False)  # weights stay fp32; precision is a runtime hint
    return xml


class OpenVINOModel(torch.nn.Module):
    """Stands in for a transformers encoder: ``forward(input_ids, attention_mask)`` → ``{"last_hidden_state"}``.

    Args:
        xml: the converted model.
        config: the replaced model's ``config`` (sentence-transformers reads it).
        dtype: ``float32``, ``bfloat16`` or ``float16``: OpenVINO's inference precision.
        threads: CPU threads OpenVINO may use (the process's torch thread count by default).
    """

    def __init__(self, xml: Path, config: Any, *, dtype: str = "bfloat16",  # noqa: ANN401
                 threads: int | None = None) -> None:
        super().__init__()
        import openvino as ov

        self.config = config
        self.dtype_name = dtype
        core = ov.Core()
        try:
            compiled = core.compile_model(core.read_model(xml), "CPU", {
                "INFERENCE_PRECISION_HINT": _PRECISION[dtype],
                "PERFORMANCE_HINT": "THROUGHPUT",
                "INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
            })
        except RuntimeError as err:
            raise HybridBenchError(f"OpenVINO cannot run {xml} in {dtype} on this CPU ({str(err).splitlines()[0]}); "
                                   "use --dtype auto or float32") from None
        self.input_names = [i.get_any_name() for i in compiled.inputs]
        self.queue = ov.AsyncInferQueue(compiled, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._results: dict[int, np.ndarray] = {}
        self._in_flight = 0  # requests started and not yet collected
        self._changed = threading.Condition()
        self.queue.set_callback(self._collect)

    def _collect(self, request: Any, start: int) -> None:  # noqa: ANN401 -- runs in an OpenVINO thread
        hidden = request.get_output_tensor(0).data.copy()
        with self._changed:
            self._results[start] = hidden
            self._in_flight -= 1
            self._changed.notify_all()

    def _wait(self, ready: Callable[[], bool], interrupted: threading.Event) -> None:
        """Wait until ``ready()``, looking for Ctrl-C every :data:`_POLL_S`; on one, wait for the requests already
        started (at most a sub-batch each) and raise :class:`KeyboardInterrupt`."""
        with self._changed:
            while not ready():
                if interrupted.is_set():
                    while self._in_flight:
                        self._changed.wait(_POLL_S)
                    raise KeyboardInterrupt
                self._changed.wait(_POLL_S)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                **kwargs: Any) -> dict[str, torch.Tensor]:  # noqa: ANN401
        features = {"input_ids": input_ids, "attention_mask": attention_mask, **kwargs}
        lengths = attention_mask.sum(dim=1)
        self._results = {}
        with _sigint_noted() as interrupted:
            for start in range(0, input_ids.shape[0], SUB_BATCH):
                width = int(lengths[start : start + SUB_BATCH].max())
                inputs = {name: features[name][start : start + SUB_BATCH, :width].numpy() for name in self.input_names}
                if interrupted.is_set():
                    self._wait(lambda: False, interrupted)  # raises once the requests started are done
                with self._changed:
                    self._in_flight += 1
                self.queue.start_async(inputs, start)  # blocks at most until a request is free: one sub-batch
            self._wait(lambda: self._in_flight == 0, interrupted)
        out = torch.zeros((*input_ids.shape, self._results[0].shape[-1]), dtype=torch.float32)
        for start, hidden in self._results.items():
            out[start : start + hidden.shape[0], : hidden.shape[1]] = torch.from_numpy(hidden)
        return {"last_hidden_state": out}


def use_openvino(st_model: Any, folder: Path, *, dtype: str) -> Any:  # noqa: ANN401 -- a SentenceTransformer
    """Run ``st_model``'s transformer through OpenVINO at ``dtype`` (converted once into ``folder``); returns it."""
    module = st_model[0]
    if not isinstance(getattr(module, "model", None), torch.nn.Module) or not hasattr(module.model, "config"):
        raise HybridBenchError(f"backend openvino converts a transformers encoder; the first module of this model is "
                               f"{type(module).__name__}. Use --backend torch")
    xml = convert(module.model, folder)
    module.model = OpenVINOModel(xml, module.model.config, dtype=dtype)
    return st_model
