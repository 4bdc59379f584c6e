"""Build step (setuptools ``cmdclass``): install ``hybrid_bench_hook.pth`` at the top of site-packages.

Only files at the top of site-packages are read as ``.pth`` files, and setuptools has no option for installing a
file there, so ``build_py`` puts it there itself (setuptools does the same for its ``distutils-precedence.pth``):

* regular builds (wheel, sdist -> wheel, ``pip install .``): into ``build_lib``, whose contents become the root of
  the wheel, i.e. site-packages;
* editable installs (PEP 660, ``pip install -e .``): setuptools' ``editable_wheel`` does not install ``build_lib``,
  it maps the packages from the source tree instead. It points the ``install`` command's ``install_lib`` at the root
  of the editable wheel it is assembling, so the ``.pth`` goes there and lands in site-packages next to setuptools'
  own ``__editable__.*.pth``. (Those sort before ``hybrid_bench_hook.pth``, so ``_hybrid_bench_hook`` is importable
  when the line runs.)

Not shipped in the wheel; pyproject.toml names it in ``[tool.setuptools.cmdclass]`` and MANIFEST.in puts it in the
sdist.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools.command.build_py import build_py as _build_py

PTH_NAME = "hybrid_bench_hook.pth"
PTH_SOURCE = Path(__file__).resolve().parent / PTH_NAME


class build_py(_build_py):  # noqa: N801 -- replaces setuptools' command of this name
    """setuptools' ``build_py`` plus the import-hook ``.pth`` file (see the module docstring)."""

    def _pth_target(self) -> str:
        if getattr(self, "editable_mode", False):
            return os.path.join(self.get_finalized_command("install").install_lib, PTH_NAME)
        return os.path.join(self.build_lib, PTH_NAME)

    def run(self) -> None:
        super().run()
        target = self._pth_target()
        self.mkpath(os.path.dirname(target))
        self.copy_file(str(PTH_SOURCE), target, preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            outputs.append(os.path.join(self.build_lib, PTH_NAME))
        return outputs
