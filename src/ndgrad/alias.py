"""Run PyTorch code unchanged: ``import torch`` resolving to ndgrad, on explicit request only.

``install_as_torch()`` puts a meta-path finder first on ``sys.meta_path`` that answers
``torch`` and every ``torch.<sub>`` with the ndgrad module of the same path (``torch.nn`` is
``ndgrad.nn``: the same module object, in ``sys.modules`` under both names), and
``torchvision[.<sub>]`` with ``ndgrad.vision[.<sub>]``, imported when first asked for.

The alias is opt-in and never silent: it refuses (RuntimeError) when the real PyTorch is already
imported, so nothing in one process sees two ``torch``es; where PyTorch is installed but not
imported, the alias wins only because it was asked for, and what is active stays visible
(``torch.__name__ == "ndgrad"``, ``torch.__version__`` is ndgrad's). A torch module ndgrad
lacks (``torch.fx``) raises ModuleNotFoundError naming it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

from ndgrad import _dtype

# Top-level names the alias answers, and the ndgrad module each resolves to.
ALIASES = {"torch": "ndgrad", "torchvision": "ndgrad.vision"}


def torch_name(module_name: str) -> str:
    """``ndgrad.nn.functional`` -> ``torch.nn.functional``; ``ndgrad.vision.io`` ->
    ``torchvision.io``: the PyTorch name of an ndgrad module."""
    for alias, target in sorted(ALIASES.items(), key=lambda kv: -len(kv[1])):
        if module_name == target or module_name.startswith(target + "."):
            return alias + module_name[len(target) :]
    return module_name


def _target(fullname: str) -> str | None:
    root, dot, rest = fullname.partition(".")
    if root not in ALIASES:
        return None
    return ALIASES[root] + dot + rest


def _missing(fullname: str, target: str) -> ModuleNotFoundError:
    from ndgrad import __version__

    if fullname == "torchvision":
        why = f"ndgrad {__version__} has no ndgrad.vision (torchvision's API) yet"
    else:
        why = f"ndgrad {__version__} (imported as torch) does not implement PyTorch's {fullname}"
    return ModuleNotFoundError(f"No module named '{fullname}': {why}", name=fullname)


class TorchAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torch[.x]``/``torchvision[.x]`` and loads them as the ndgrad modules."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        real = _target(fullname)
        if real is None:
            return None
        module = self._import(fullname, real)
        spec = importlib.machinery.ModuleSpec(fullname, self, origin=real)
        spec.loader_state = (module, module.__spec__)
        return spec

    @staticmethod
    def _import(fullname: str, real: str) -> types.ModuleType:
        if real in sys.modules:
            return sys.modules[real]
        try:
            return importlib.import_module(real)
        except ModuleNotFoundError as exc:
            # Only ndgrad's own missing module becomes torch's name; a missing third-party
            # dependency (PIL, say) keeps its own error.
            if exc.name is None or not (real == exc.name or real.startswith(exc.name + ".")):
                raise
            parent_name, _, leaf = real.rpartition(".")
            parent = sys.modules.get(parent_name)
            attribute = getattr(parent, leaf, None) if parent is not None else None
            if isinstance(attribute, types.ModuleType):  # a module bound under another name
                return attribute
            raise _missing(fullname, real) from None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return spec.loader_state[0]

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system wrote the alias's spec onto the module: give ndgrad's back.
        module.__spec__ = module.__spec__.loader_state[1]


_FINDER = TorchAliasFinder()


def _real_torch_imported() -> str | None:
    """The name of a real (not ndgrad) torch/torchvision module already imported, if any."""
    for name in ("torch", "torchvision"):
        module = sys.modules.get(name)
        if module is not None and not getattr(module, "__name__", "").startswith("ndgrad"):
            return name
    for name, module in list(sys.modules.items()):
        if module is None or _target(name) is None:
            continue
        if not getattr(module, "__name__", "").startswith("ndgrad"):
            return name
    return None


def is_installed() -> bool:
    """Is the alias active in this process?"""
    return _FINDER in sys.meta_path


def install_as_torch(verbose: bool = False) -> types.ModuleType:
    """Make ``import torch`` (and ``torch.*``, ``torchvision[.*]``) resolve to ndgrad.

    Returns the ``torch`` module (ndgrad). Raises RuntimeError if the real PyTorch (or
    torchvision) is already imported in this process: ndgrad never shadows it silently.
    With ``verbose``, prints ``torch -> ndgrad X.Y`` on stderr.
    """
    import ndgrad

    real = _real_torch_imported()
    if real is not None:
        where = getattr(sys.modules[real], "__file__", None) or "?"
        raise RuntimeError(
            f"ndgrad.install_as_torch(): the real PyTorch is already imported in this process "
            f"({real} from {where}); ndgrad will not shadow it. Install the alias before "
            "anything imports torch, or run the program with `ndgrad run`."
        )
    if not is_installed():
        sys.meta_path.insert(0, _FINDER)
    _dtype.set_printed_prefix("torch")  # torch.float32, torch.Size([2]) as PyTorch prints them
    module = importlib.import_module("torch")
    for name, loaded in list(sys.modules.items()):  # `import torch` lists torch.nn etc., as
        if name.startswith("ndgrad.") and not name.startswith("ndgrad.cli"):  # torch's does
            torch_mod = torch_name(name)
            if loaded is not None and torch_mod != name:
                sys.modules.setdefault(torch_mod, loaded)
    if verbose:
        print(f"torch -> ndgrad {ndgrad.__version__} ({ndgrad.__file__})", file=sys.stderr)
    return module


def uninstall_as_torch() -> None:
    """Undo ``install_as_torch``: remove the finder and the ``torch``/``torchvision`` names."""
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    _dtype.set_printed_prefix("ndgrad")
    for name in [n for n in sys.modules if _target(n) is not None]:
        if getattr(sys.modules[name], "__name__", "").startswith("ndgrad"):
            del sys.modules[name]
