"""Is a folder a loadable sentence-transformers model? A cheap check before anything loads it.

An interrupted copy, a half-written download or a hand-edited config otherwise surfaces as a 60-line traceback from
``transformers`` / ``safetensors`` deep inside model loading - or not at all in ``hybrid-bench models list`` and
``models path``, so ``scripts/setup.sh`` would never rebuild a broken ``me5-small``. :func:`model_folder_problem`
reads only small JSON files and the safetensors headers (``safetensors.safe_open`` checks that the header covers
the whole file, which catches truncation), never the weights, and never unpickles anything.

Example::

    from hybrid_bench.models.folder_check import check_model_folder

    check_model_folder("~/.cache/hybrid_bench/models/me5-small")   # raises ModelNotFoundError naming the problem
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hybrid_bench.errors import ModelNotFoundError

__all__ = ["check_model_folder", "model_folder_problem"]

#: weight files sentence-transformers / transformers read without unpickling
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


def _json(path: Path) -> Any:  # noqa: ANN401 - parsed JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path.name} is missing") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"{path.name} is not valid JSON ({err})") from None


def _weights_problem(folder: Path) -> str | None:
    from safetensors import safe_open

    if (folder / "model.safetensors.index.json").is_file():
        shards = sorted(set(_json(folder / "model.safetensors.index.json").get("weight_map", {}).values()))
    elif (folder / "model.safetensors").is_file():
        shards = ["model.safetensors"]
    else:
        return f"no weights file ({' or '.join(_WEIGHTS)}) in {folder}"
    for shard in shards:
        try:
            with safe_open(str(folder / shard), framework="pt"):
                pass
        except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
            return f"{folder / shard} is damaged or truncated ({str(err).splitlines()[0]})"
    return None


def model_folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """What is wrong with the model folder ``folder``, in one sentence; ``None`` when it looks loadable.

    Checks ``modules.json``, each module's JSON configs, and every transformer module's ``config.json`` and
    safetensors weights (headers only).
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        if not (folder / "modules.json").is_file() and (folder / "config.json").is_file():
            # a plain transformers folder (sentence-transformers adds mean pooling)
            _json(folder / "config.json")
            return _weights_problem(folder)
        modules = _json(folder / "modules.json")
        if not isinstance(modules, list):
            return f"{folder / 'modules.json'} should be a list of modules"
        for module in modules:
            sub = folder / str(module.get("path", ""))
            if not sub.is_dir():
                return f"module folder {sub} is missing"
            for config in sorted(sub.glob("*.json")):
                _json(config)
            if str(module.get("type", "")).rsplit(".", 1)[-1] == "Transformer":
                _json(sub / "config.json")
                if problem := _weights_problem(sub):
                    return problem
    except ValueError as err:
        return f"{folder}: {err}"
    return None


def check_model_folder(folder: str | os.PathLike[str]) -> Path:
    """``folder`` as a :class:`~pathlib.Path` if it looks loadable (see :func:`model_folder_problem`).

    Raises:
        ModelNotFoundError: one line naming the file and what is wrong with it.
    """
    problem = model_folder_problem(folder)
    if problem is not None:
        raise ModelNotFoundError(f"broken model folder: {problem}; rebuild or re-train it (or delete the folder)")
    return Path(folder).expanduser()
