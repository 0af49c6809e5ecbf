"""One test per ``ndgrad doctor explain`` entry, on a verbatim message from its public source
(some inside a realistic traceback); plus --list, empty input and the see-also rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ndgrad.doctor import catalog
from ndgrad.doctor.cli import app
from ndgrad.doctor.explain import catalogue, explain

FIXTURES = Path(__file__).parent / "fixtures"

# id -> verbatim messages (as posted in the thread the entry cites, paths as the poster had them)
MESSAGES: dict[str, tuple[str, ...]] = {
    "jinja2-contextfilter": ((FIXTURES / "nbconvert_contextfilter.txt").read_text(),),
    "jinja2-utils-escape": ("AttributeError: module 'jinja2.utils' has no attribute 'escape'",),
    "jinja2-markup-escape": (
        "ImportError: cannot import name 'Markup' from 'jinja2' "
        "(/opt/conda/lib/python3.9/site-packages/jinja2/__init__.py)",
    ),
    "markupsafe-soft-unicode": (
        "ImportError: cannot import name 'soft_unicode' from 'markupsafe' "
        "(/usr/lib/python3/dist-packages/markupsafe/__init__.py)",
    ),
    "pillow-imaging-dll": (
        '  File "C:\\Python310\\lib\\site-packages\\PIL\\Image.py", line 103, in <module>\n'
        "    from . import _imaging as core\n"
        "ImportError: DLL load failed while importing _imaging: "
        "The specified module could not be found.",
    ),
    "torchvision-nms": (
        '  File "/venv/lib/python3.11/site-packages/torchvision/_meta_registrations.py", '
        "line 164, in <module>\n"
        '    @torch.library.register_fake("torchvision::nms")\n'
        "RuntimeError: operator torchvision::nms does not exist",
    ),
    "torchvision-cuda-major": (
        "RuntimeError: Detected that PyTorch and torchvision were compiled with different CUDA "
        "major versions. PyTorch has CUDA Version=11.8 and torchvision has CUDA Version=12.1. "
        "Please reinstall the torchvision that matches your PyTorch install.",
    ),
    "cuda-driver-insufficient": (
        "RuntimeError: CUDA error: CUDA driver version is insufficient for CUDA runtime version",
    ),
    "torch-driver-too-old": ((FIXTURES / "torch_driver_too_old_162531.txt").read_text(),),
    "torch-not-compiled-cuda": ("AssertionError: Torch not compiled with CUDA enabled",),
    "torch-no-matching-distribution": (
        "ERROR: Could not find a version that satisfies the requirement torch (from versions: "
        "none)\nERROR: No matching distribution found for torch",
    ),
    "cudnn-incompatible": (
        "RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (8, 9, 2) "
        "but found runtime version (8, 5, 0).",
    ),
    "jupyter-kernel-died": ("The kernel appears to have died. It will restart automatically.",),
    "jupyter-kernel-not-found": (
        "jupyter_client.kernelspec.NoSuchKernel: No such kernel named d2l",
    ),
    "jupyter-server-contents": ("ModuleNotFoundError: No module named 'jupyter_server.contents'",),
    "pkgutil-impimporter": (
        "AttributeError: module 'pkgutil' has no attribute 'ImpImporter'. "
        "Did you mean: 'zipimporter'?",
    ),
    "cuda-no-kernel-image": (
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
    ),
    "cuda-capability-not-compatible": (
        "C:\\AI\\APPLIO\\env\\lib\\site-packages\\torch\\cuda\\__init__.py:209: UserWarning:\n"
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current "
        "PyTorch installation.\nThe current PyTorch install supports CUDA capabilities sm_50 "
        "sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90.\nIf you want to use the NVIDIA GeForce RTX "
        "5090 GPU with PyTorch, please check the instructions at "
        "https://pytorch.org/get-started/locally/\n  warnings.warn(",
    ),
    "cuda-gpu-too-old": (
        "    Found GPU0 NVIDIA GeForce GTX 680 which is of cuda capability 3.0.\n"
        "    PyTorch no longer supports this GPU because it is too old.\n"
        "    The minimum cuda capability supported by this library is 3.7.\n",
    ),
    "cuda-out-of-memory": (
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.69 GiB (GPU 0; "
        "14.56 GiB total capacity; 649.97 MiB already allocated; 1.31 GiB free; 1.01 GiB "
        "reserved in total by PyTorch) If reserved memory is >> allocated memory try setting "
        "max_split_size_mb to avoid fragmentation.  See documentation for Memory Management and "
        "PYTORCH_CUDA_ALLOC_CONF",
        "RuntimeError: CUDA out of memory. Tried to allocate 1024.00 KiB (GPU 0; 11.17 GiB total "
        "capacity; 10.90 GiB already allocated; 576.00 KiB free; 30.96 MiB cached)",
    ),
    "cudnn-not-initialized": ("RuntimeError: cuDNN error: CUDNN_STATUS_NOT_INITIALIZED",),
    "libcudnn-missing": (
        "Traceback (most recent call last):\n"
        '  File "/home/mouse/text-generation-webui/server.py", line 44, in <module>\n'
        "    import torch\n"
        '  File "/home/mouse/anaconda3/envs/textgen/lib/python3.10/site-packages/torch/'
        '__init__.py", line 229, in <module>\n'
        "    from torch._C import *  # noqa: F403\n"
        "ImportError: libcudnn.so.8: cannot open shared object file: No such file or directory",
        "ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory",
    ),
    "libcudart-missing": (
        "ImportError: libtorch_cuda_cu.so: cannot open shared object file: No such file or "
        "directory",
    ),
    "nvidia-smi-no-driver": (
        "$ nvidia-smi\nNVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
        "driver. Make sure that the latest NVIDIA driver is installed and running.",
    ),
    "cuda-no-nvidia-driver": (
        "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an "
        "NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx",
    ),
    "cuda-device-side-assert": (
        "RuntimeError: CUDA error: device-side assert triggered\nCUDA kernel errors might be "
        "asynchronously reported at some other API call, so the stacktrace below might be "
        "incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1.\n"
        "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.",
    ),
    "tensors-different-devices": (
        "RuntimeError: Expected all tensors to be on the same device, but found at least two "
        "devices, cpu and cuda:0! (when checking argument for argument mat2 in method "
        "wrapper_mm)",
    ),
    "input-weight-type-mismatch": (
        "RuntimeError: Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) "
        "should be the same",
    ),
    "cuda-deserialize-no-gpu": (
        "RuntimeError: Attempting to deserialize object on a CUDA device but "
        "torch.cuda.is_available() is False. If you are running on a CPU-only machine, please "
        "use torch.load with map_location=torch.device('cpu') to map your storages to the CPU.",
    ),
    "cuda-fork-reinit": (
        "RuntimeError: Cannot re-initialize CUDA in forked subprocess. To use CUDA with "
        "multiprocessing, you must use the 'spawn' start method",
    ),
    "windows-torch-dll-126": (
        "OSError: [WinError 126] The specified module could not be found. Error loading "
        '"c:\\Users\\Noor\\anaconda3\\envs\\DL\\Lib\\site-packages\\torch\\lib\\fbgemm.dll" or '
        "one of its dependencies.",
        "OSError: [WinError 126] Le module spécifié est introuvable. Error loading "
        '"C:\\ai\\stable-diffusion-webui\\venv\\lib\\site-packages\\torch\\lib\\c10.dll" or one '
        "of its dependencies.",
    ),
    "windows-dll-load-failed": ("ImportError: DLL load failed: 操作系统无法运行 %1。",),
    "omp-error-15": (
        "OMP: Error #15: Initializing libiomp5md.dll, but found libiomp5md.dll already "
        "initialized.\nOMP: Hint This means that multiple copies of the OpenMP runtime have been "
        "linked into the program. That is dangerous, since it can degrade performance or cause "
        "incorrect results.",
    ),
    "windows-bootstrapping-phase": (
        "RuntimeError: \n        An attempt has been made to start a new process before the\n"
        "        current process has finished its bootstrapping phase.\n\n"
        "        This probably means that you are not using fork to start your\n"
        "        child processes and you have forgotten to use the proper idiom\n"
        "        in the main module:",
    ),
    "numpy2-abi": (
        "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.0 as it may "
        "crash. To support both 1.x and 2.x\nversions of NumPy, modules must be compiled with "
        "NumPy 2.0.\nSome module may need to rebuild instead e.g. with 'pybind11>=2.12'.\n\n"
        "If you are a user of the module, the easiest solution will be to\ndowngrade to "
        "'numpy<2' or try to upgrade the affected module.",
    ),
    "numpy-not-available": (
        "    image = torch.from_numpy(image).unsqueeze(0)\n"
        "            ^^^^^^^^^^^^^^^^^^^^^^^\nRuntimeError: Numpy is not available",
    ),
    "numpy-dtype-size-changed": (
        "ValueError: numpy.dtype size changed, may indicate binary incompatibility. Expected 96 "
        "from C header, got 88 from PyObject",
    ),
    "numpy-removed-alias": (
        "AttributeError: module 'numpy' has no attribute 'float'.\n`np.float` was a deprecated "
        "alias for the builtin `float`. To avoid this error in existing code, use `float` by "
        "itself.",
        "AttributeError: `np.NaN` was removed in the NumPy 2.0 release. Use `np.nan` instead.. "
        "Did you mean: 'nan'?",
    ),
    "no-module-torch": (
        "ModuleNotFoundError                       Traceback (most recent call last)\n"
        "<ipython-input-10-eb42ca6e4af3> in <module>\n----> 1 import torch\n"
        "ModuleNotFoundError: No module named 'torch'",
    ),
    "no-module-torchvision": ("ModuleNotFoundError: No module named 'torchvision'",),
    "no-module-d2l": (
        "----> 1 from d2l import torch as d2l\n\nModuleNotFoundError: No module named 'd2l'",
    ),
    "no-module-ipykernel": (
        "/home/user/.venv/bin/python: No module named ipykernel_launcher",
        "ModuleNotFoundError: No module named 'ipykernel'",
    ),
    "tqdm-iprogress": (
        "ImportError: IProgress not found. Please update jupyter and ipywidgets. See "
        "https://ipywidgets.readthedocs.io/en/stable/user_install.html",
        "TqdmWarning: IProgress not found. Please update jupyter and ipywidgets.",
    ),
    "d2l-old-api-train-ch3": (
        "----> 3 d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, updater)\n\n"
        "AttributeError: module 'd2l.torch' has no attribute 'train_ch3'",
    ),
    "d2l-new-api-hyperparameters": (
        "      1 # Call the fully implemented HyperParameters class saved in d2l\n"
        "----> 2 class B(d2l.HyperParameters):\n\n"
        "AttributeError: module 'd2l.torch' has no attribute 'HyperParameters'",
    ),
    "torch-load-weights-only": (
        "_pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to "
        "do so you have two options, do those steps only if you trust the source of the "
        "checkpoint. (1) In PyTorch 2.6, we changed the default value of the `weights_only` "
        "argument in `torch.load` from `False` to `True`.",
    ),
    "dataloader-worker-killed": (
        "RuntimeError: DataLoader worker (pid 19597) is killed by signal: Killed.",
        "RuntimeError: DataLoader worker (pid 46794) is killed by signal: Bus error. It is "
        "possible that dataloader's workers are out of shared memory. Please try to raise your "
        "shared memory limit.",
        "RuntimeError: DataLoader worker (pid(s) 164244) exited unexpectedly",
    ),
    "autograd-no-grad-fn": (
        '  File "train.py", line 189, in train\n    loss.backward()\n'
        "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn",
    ),
    "autograd-backward-twice": (
        "RuntimeError: Trying to backward through the graph a second time, but the buffers have "
        "already been freed. Specify retain_graph=True when calling backward the first time.",
        "Trying to backward through the graph a second time (or directly access saved tensors "
        "after they have already been freed). Saved intermediate values of the graph are freed "
        "when you call .backward() or autograd.grad().",
    ),
    "autograd-leaf-inplace": (
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.",
        "RuntimeError: a view of a leaf Variable that requires grad is being used in an "
        "in-place operation.",
    ),
    "autograd-inplace-modified": (
        "RuntimeError: one of the variables needed for gradient computation has been modified "
        "by an inplace operation: [torch.cuda.FloatTensor [10, 49]], which is output 0 of "
        "SubBackward0, is at version 1; expected version 0 instead.",
    ),
    "autograd-numpy-requires-grad": (
        "RuntimeError: Can't call numpy() on Tensor that requires grad. Use "
        "tensor.detach().numpy() instead.",
    ),
    "numpy-on-cuda-tensor": (
        "    distmat = distmat.numpy()\nTypeError: can't convert cuda:0 device type tensor to "
        "numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
    ),
    "autograd-grad-not-scalar": (
        '    raise RuntimeError("grad can be implicitly created only for scalar outputs")\n'
        "RuntimeError: grad can be implicitly created only for scalar outputs",
    ),
    "shape-mat1-mat2": (
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2708x7 and 256x256)",
    ),
    "shape-mat1-mat2-dtype": (
        "    return F.linear(input, self.weight, self.bias)\n"
        "RuntimeError: mat1 and mat2 must have the same dtype",
    ),
    "dtype-double-float": (
        "RuntimeError: expected scalar type Double but found Float",
        "RuntimeError: Found dtype Double but expected Float",
    ),
    "dtype-expected-long": (
        "    ret = torch._C._nn.nll_loss(input, target, weight, _Reduction.get_enum(reduction), "
        "ignore_index)\nRuntimeError: expected scalar type Long but found Int",
    ),
    "target-out-of-bounds": ("IndexError: Target 5 is out of bounds.",),
    "batch-size-mismatch": (
        "ValueError: Expected input batch_size (60) to match target batch_size (10).",
    ),
    "broadcast-size-mismatch": (
        "RuntimeError: The size of tensor a (2) must match the size of tensor b (3) at "
        "non-singleton dimension 1",
    ),
    "view-not-contiguous": (
        "RuntimeError: view size is not compatible with input tensor's size and stride (at "
        "least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.",
    ),
    "bool-ambiguous": (
        "RuntimeError: Boolean value of Tensor with more than one value is ambiguous",
    ),
    "item-not-scalar": ("ValueError: only one element tensors can be converted to Python scalars",),
    "state-dict-mismatch": (
        "RuntimeError: Error(s) in loading state_dict for DTNet:\n"
        '\tMissing key(s) in state_dict: "projection.0.weight", "head.0.weight". \n'
        '\tUnexpected key(s) in state_dict: "module.projection.0.weight", '
        '"module.head.0.weight".',
    ),
    "conv-channels-mismatch": (
        "RuntimeError: Given groups=1, weight of size [64, 3, 3, 3], expected input[1, 1, 256, "
        "256] to have 3 channels, but got 1 channels instead",
    ),
}

CASES = [(entry, message) for entry, messages in MESSAGES.items() for message in messages]


@pytest.mark.parametrize(
    ("entry", "message"), CASES, ids=[f"{e}-{i}" for i, (e, _) in enumerate(CASES)]
)
def test_entry_recognises_its_verbatim_message(entry: str, message: str):
    first = explain(message)[0]
    assert first.known and first.id == entry, (first.id, first.see_also)
    assert first.cause and first.fixes and first.source
    assert "{" not in first.title + first.cause, "unfilled placeholder"


def test_every_entry_has_a_message_a_source_and_a_description():
    ids = [k.id for k in catalog.KNOWN_ERRORS]
    assert len(ids) == len(set(ids)) >= 50
    assert set(MESSAGES) == set(ids)
    for known in catalog.KNOWN_ERRORS:
        assert known.matches and known.source, known.id


def test_tolerant_of_surrounding_traceback_and_case():
    log = (
        'Epoch 1/3\nTraceback (most recent call last):\n  File "/srv/x.py", line 3\n'
        + MESSAGES["target-out-of-bounds"][0].lower()
        + "\n\nsome later output\n"
    )
    assert explain(log)[0].id == "target-out-of-bounds"


def test_most_specific_wins_and_the_others_are_see_also():
    (pillow,) = explain(MESSAGES["pillow-imaging-dll"][0])
    assert pillow.id == "pillow-imaging-dll" and "windows-dll-load-failed" in pillow.see_also
    (dll,) = explain(MESSAGES["windows-torch-dll-126"][0])
    assert dll.see_also == ()
    long_ = explain(MESSAGES["dtype-expected-long"][0])
    assert [d.id for d in long_] == ["dtype-expected-long"]


def test_values_from_the_message_reach_the_advice():
    (d,) = explain(MESSAGES["shape-mat1-mat2"][0])
    assert "7 features vs 256 expected" in d.title
    (d,) = explain(MESSAGES["cuda-capability-not-compatible"][0])
    assert "sm_120" in d.title


def test_ndgrad_ways_out_are_offered():
    fixes = "\n".join(explain(MESSAGES["no-module-torch"][0])[0].fixes)
    assert "ndgrad kernel install" in fixes and "ndgrad run" in fixes
    fixes = "\n".join(explain(MESSAGES["d2l-new-api-hyperparameters"][0])[0].fixes)
    assert "d2l==1.0.3 --no-deps" in fixes or "--no-deps d2l==1.0.3" in fixes


runner = CliRunner()


def test_list_shows_every_entry_with_its_source():
    result = runner.invoke(app, ["explain", "--list", "--json"])
    assert result.exit_code == 0
    entries = json.loads(result.output)["entries"]
    assert {e["id"] for e in entries} >= set(MESSAGES)
    assert all(e["source"] and e["matches"] for e in entries)
    assert len(entries) == len(catalogue())
    result = runner.invoke(app, ["explain", "--list"])
    assert result.exit_code == 0 and "torch-load-weights-only" in result.output


def test_empty_input_says_no_message_given():
    for args, stdin in ((["explain", ""], None), (["explain", "   \n"], None), (["explain"], "")):
        result = runner.invoke(app, args, input=stdin)
        assert result.exit_code == 2, (args, result.output)
        assert "no message given" in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_stdlib_entry_point_empty_and_list(capsys):
    from ndgrad.doctor.main import main

    assert main(["explain", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ndgrad doctor: error: no message given") and err.count("\n") == 1
    assert main(["explain", "--list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["entries"]) == len(catalogue())
    assert main(["explain", "--list", "x"]) == 2
