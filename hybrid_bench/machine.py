"""Which machine computed a result: CPU kind, GPU and library versions, recorded with every trained model and
evaluation so that a run spread over several machines shows it.

The CPU *kind* is what changes speed and the last bits of floating-point results on this project's machines:
``"amx"`` (Intel Xeon with AMX: native bf16 and int8 matrix units), ``"avx512-bf16"`` (e.g. AMD EPYC Zen 4: native
bf16 vector instructions, no AMX) and ``"no-bf16"`` (bf16 emulated: about 15× slower bf16 training). Facts are
read from ``/proc/cpuinfo`` and package metadata only: nothing heavy is imported (torch only when it already is).

Example::

    from hybrid_bench.machine import machine_facts

    machine_facts()["cpu_kind"]  # 'avx512-bf16'
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

__all__ = ["LIBRARIES", "cpu_flags", "cpu_kind", "cpu_model", "machine_facts"]

#: packages whose versions change numbers or speed, recorded with each result
LIBRARIES = ("torch", "openvino", "nncf", "transformers", "sentence-transformers", "mteb", "numpy")
_CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_field(name: str) -> str | None:
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where it cannot be read, e.g. not Linux)."""
    return frozenset((_cpuinfo_field("flags") or "").split())


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (``AMD EPYC``, ``Intel(R) Xeon(R) ...``), else ``platform.processor()``."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_kind(flags: frozenset[str] | None = None) -> str:
    """``"amx"``, ``"avx512-bf16"`` or ``"no-bf16"`` (see the module docstring) for ``flags`` (default: this CPU)."""
    flags = cpu_flags() if flags is None else flags
    if "amx_bf16" in flags:
        return "amx"
    if "avx512_bf16" in flags:
        return "avx512-bf16"
    return "no-bf16"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _gpu() -> str | None:
    torch = sys.modules.get("torch")  # never imported for this
    if torch is None or not torch.cuda.is_available():
        return None
    return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"


def machine_facts() -> dict[str, Any]:
    """JSON-ready facts of this machine: CPU model, kind and cores, the GPU (if torch is loaded and sees one), OS,
    Python and the :data:`LIBRARIES` versions (``None`` for one not installed)."""
    return {
        "cpu_model": cpu_model(),
        "cpu_kind": cpu_kind(),
        "cpu_cores": os.cpu_count(),
        "gpu": _gpu(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in LIBRARIES},
    }
