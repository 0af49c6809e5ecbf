"""A Jupyter kernel in which ``import torch`` is ndgrad: ``python -m ndgrad.kernel -f FILE``.

It installs the alias (``ndgrad.install_as_torch``) before anything else runs, then starts
ipykernel exactly as ``python -m ipykernel_launcher`` does. ``ndgrad kernel install`` registers
it as a kernelspec; ``ndgrad run notebook.ipynb`` starts it from a temporary one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_NAME = "ndgrad-torch"
DEFAULT_DISPLAY_NAME = "Python 3 (ndgrad as torch)"
KERNEL_MODULE = "ndgrad.kernel"


def kernel_argv() -> list[str]:
    """The kernelspec's argv: this interpreter, starting this module."""
    return [sys.executable, "-m", KERNEL_MODULE, "-f", "{connection_file}"]


def kernel_spec(display_name: str = DEFAULT_DISPLAY_NAME) -> dict[str, Any]:
    return {
        "argv": kernel_argv(),
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": True, "ndgrad": {"alias": "torch -> ndgrad"}},
    }


def is_ndgrad_kernel(spec: dict[str, Any]) -> bool:
    """Does this kernelspec (its kernel.json as a dict) start the ndgrad kernel?"""
    argv = [str(a) for a in spec.get("argv") or []]
    return any(a == KERNEL_MODULE and i and argv[i - 1] == "-m" for i, a in enumerate(argv))


def write_kernel_spec(directory: Path, display_name: str = DEFAULT_DISPLAY_NAME) -> Path:
    """Writes a kernelspec folder (kernel.json, plus ipykernel's logos when they are there)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:  # ipykernel's own writer copies its logos; its argv is then replaced by ours
        from ipykernel.kernelspec import write_kernel_spec as _ipykernel_write

        _ipykernel_write(str(directory), overrides=kernel_spec(display_name))
    except ImportError:
        directory.mkdir(exist_ok=True)
        (directory / "kernel.json").write_text(json.dumps(kernel_spec(display_name), indent=1))
    return directory


def main() -> None:
    from ndgrad.alias import install_as_torch

    install_as_torch()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
