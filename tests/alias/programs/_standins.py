"""Stand-ins for what d2l imports at module level but these tests never use, where missing.

d2l 1.0.3's torch module imports pandas, requests and torchvision (``ndgrad.vision`` under the
alias) when it is imported; the programs here use none of them. Where one is not installed a
bare module stands in, so that the d2l programs run on the test dependencies alone.
"""

import importlib.machinery
import importlib.util
import sys
import types


def _stand_in(name: str, *subs: str) -> None:
    module = types.ModuleType(name)
    module.__doc__ = "a stand-in (tests/alias/programs/_standins.py)"
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for sub in subs:
        child = types.ModuleType(f"{name}.{sub}")
        setattr(module, sub, child)
        sys.modules[child.__name__] = child
    sys.modules[name] = module


for _name in ("pandas", "requests"):
    if importlib.util.find_spec(_name) is None:
        _stand_in(_name)

if "torch" in sys.modules and sys.modules["torch"].__name__ == "ndgrad":
    if importlib.util.find_spec("ndgrad.vision") is None:
        _stand_in("ndgrad.vision", "transforms", "datasets", "io")
elif importlib.util.find_spec("torchvision") is None:
    _stand_in("torchvision", "transforms", "datasets", "io")
