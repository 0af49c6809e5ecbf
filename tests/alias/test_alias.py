"""``ndgrad.install_as_torch()``: `import torch[...]` resolves to the same ndgrad module objects,
opt-in and never over a real torch already imported."""

from __future__ import annotations

import json

from tests.alias.conftest import python

SUBMODULES = {
    "torch": "ndgrad",
    "torch.nn": "ndgrad.nn",
    "torch.nn.functional": "ndgrad.nn.functional",
    "torch.nn.init": "ndgrad.nn.init",
    "torch.optim": "ndgrad.optim",
    "torch.optim.lr_scheduler": "ndgrad.optim.lr_scheduler",
    "torch.utils": "ndgrad.utils",
    "torch.utils.data": "ndgrad.utils.data",
    "torch.autograd": "ndgrad.autograd",
    "torch.distributions": "ndgrad.distributions",
    "torch.linalg": "ndgrad.linalg",
    "torch.cuda": "ndgrad.cuda",
}


def test_torch_submodules_are_the_ndgrad_modules():
    result = python(
        f"""
        import importlib, json, sys
        import ndgrad
        assert "torch" not in sys.modules
        ndgrad.install_as_torch()
        import torch, torch.cuda
        from torch.utils import data
        import torch.nn.functional as F
        import torch.nn.init, torch.optim.lr_scheduler, torch.autograd, torch.distributions
        import torch.linalg
        from torch.utils.data import DataLoader
        from torch.optim.lr_scheduler import StepLR
        same = {{a: sys.modules[a] is importlib.import_module(b)
                for a, b in {SUBMODULES!r}.items()}}
        print(json.dumps(dict(
            same=same, name=torch.__name__, version=torch.__version__,
            spec=torch.nn.__spec__.name, data=data is ndgrad.utils.data,
            F=F is ndgrad.nn.functional, loader=DataLoader is ndgrad.utils.data.DataLoader,
            cuda=[torch.cuda.is_available(), torch.cuda.device_count()],
            grad=torch.autograd.grad is ndgrad.autograd.grad, again=ndgrad.install_as_torch() is torch,
        )))
        """
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert all(out["same"].values()), out["same"]
    assert out["name"] == "ndgrad" and out["version"] == __import__("ndgrad").__version__
    assert out["spec"] == "ndgrad.nn"  # ndgrad keeps its own spec
    assert out["data"] and out["F"] and out["loader"] and out["grad"] and out["again"]
    assert out["cuda"] == [False, 0]
    assert result.stderr == ""  # quiet unless asked


def test_verbose_says_which_torch_is_active():
    result = python("import ndgrad; ndgrad.install_as_torch(verbose=True)")
    assert result.returncode == 0
    assert result.stderr.startswith("torch -> ndgrad ")


def test_a_missing_torch_module_names_torchs_api():
    result = python(
        """
        import ndgrad
        ndgrad.install_as_torch()
        try:
            import torch.fx
        except ModuleNotFoundError as exc:
            print(exc.name, "|", exc)
        """
    )
    name, message = result.stdout.strip().split(" | ")
    assert name == "torch.fx"
    assert "torch.fx" in message and "ndgrad" in message and "does not implement" in message


def test_refuses_when_the_real_torch_is_imported(tmp_path):
    program = tmp_path / "prog.py"
    program.write_text("import torch\nprint(torch.__name__)\n")
    result = python(
        f"""
        import contextlib, io, sys
        import torch
        real = torch
        import ndgrad
        try:
            ndgrad.install_as_torch()
        except RuntimeError as exc:
            print("refused:", exc)
        import torch
        assert sys.modules["torch"] is real and torch is real  # nothing shadowed
        assert not ndgrad.alias.is_installed()
        # `ndgrad run` in a process that already holds the real torch: one line, exit 2.
        from ndgrad.cli import main
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                main(["run", {str(program)!r}])
            except SystemExit as exc:
                print("exit", exc.code)
        print(err.getvalue().strip())
        """,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    refused, code, run_message = result.stdout.strip().splitlines()
    assert refused.startswith("refused:") and "real PyTorch is already imported" in refused
    assert code == "exit 2"
    assert run_message.startswith("ndgrad run: error: ") and "already imported" in run_message


def test_uninstall_gives_the_real_torch_back():
    result = python(
        """
        import ndgrad, sys
        ndgrad.install_as_torch()
        import torch.nn
        ndgrad.alias.uninstall_as_torch()
        assert not any(n == "torch" or n.startswith("torch.") for n in sys.modules)
        import importlib.util
        spec = importlib.util.find_spec("torch")
        print(spec.origin)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "site-packages" in result.stdout and "ndgrad" not in result.stdout


def test_torchvision_resolves_lazily_to_ndgrad_vision():
    result = python(
        """
        import importlib.util, sys, types
        import ndgrad
        ndgrad.install_as_torch()
        assert "torchvision" not in sys.modules and "ndgrad.vision" not in sys.modules
        if importlib.util.find_spec("ndgrad.vision") is None:
            try:
                import torchvision
            except ModuleNotFoundError as exc:
                print("missing:", exc)
            vision = types.ModuleType("ndgrad.vision")  # a tiny stand-in
            vision.transforms = types.ModuleType("ndgrad.vision.transforms")
            sys.modules.update({"ndgrad.vision": vision,
                                "ndgrad.vision.transforms": vision.transforms})
        import torchvision
        from torchvision import transforms
        print(torchvision is sys.modules["ndgrad.vision"],
              transforms is sys.modules["ndgrad.vision.transforms"])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True True"
    for line in result.stdout.splitlines():
        if line.startswith("missing:"):
            assert "torchvision" in line and "ndgrad.vision" in line


def test_ndgrad_itself_never_imports_torch():
    result = python(
        """
        import sys
        import ndgrad, ndgrad.cli.run, ndgrad.cli.kernel, ndgrad.kernel
        print(sorted(n for n in sys.modules if n == "torch" or n.startswith("torch.")))
        """
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_under_the_alias_types_print_as_pytorch_prints_them():
    result = python(
        "import ndgrad\n"
        "print(ndgrad.float32, ndgrad.ones(1).shape)\n"
        "ndgrad.install_as_torch()\n"
        "import torch\n"
        "x = torch.ones(2, dtype=torch.int32)\n"
        "print(repr(x), x.shape, x.float().type(), torch.float64)\n"
        "ndgrad.alias.uninstall_as_torch()\n"
        "print(ndgrad.float32)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ndgrad.float32 ndgrad.Size([1])",
        "tensor([1, 1], dtype=torch.int32) torch.Size([2]) torch.FloatTensor torch.float64",
        "ndgrad.float32",
    ]
