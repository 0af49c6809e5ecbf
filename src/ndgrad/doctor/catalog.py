"""The error messages learners paste into ``ndgrad doctor explain``, beyond the set-up rows of
``rules.KNOWN_ERRORS``: CUDA, Windows DLLs, NumPy ABI, Jupyter, d2l editions, DataLoader and the
autograd mistakes of a first course.

Each row matches the message's distinctive line (case-insensitive, anywhere in a traceback) and
names the public thread or page it comes from; every source was looked up, none is invented.
Where ndgrad itself offers a way out (``ndgrad run``, ``ndgrad kernel install``, the d2l recipe
in the README), the row says so. Standard library only: ``ndgrad doctor`` runs without NumPy.
"""

from __future__ import annotations

from ndgrad.doctor.rules import KNOWN_ERRORS as SETUP_ERRORS
from ndgrad.doctor.rules import REINSTALL_TORCH_TRIO, WHEEL_INDEX, KnownError

NDGRAD_RUN = "ndgrad run script.py   # runs the script on ndgrad (import torch -> ndgrad), no CUDA"
NDGRAD_KERNEL = "ndgrad kernel install   # a Jupyter kernel where `import torch` is ndgrad"
D2L_RECIPE = (
    "pip install --no-deps d2l==1.0.3   # then: pip install pandas requests ipython "
    "matplotlib-inline scipy Pillow (the README's recipe)"
)
WRONG_KERNEL_CHECK = (
    "import sys; print(sys.executable)   # in the notebook: the Python the kernel runs; "
    'compare with `python -c "import sys; print(sys.executable)"` in the shell'
)
PIP_IN_KERNEL = "%pip install {package}   # in a notebook cell: installs into the kernel's Python"

CUDA_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        id="cuda-no-kernel-image",
        matches="CUDA error: no kernel image is available for execution on the device",
        pattern=r"no kernel image is available for execution on the device",
        title="torch (or an extension) has no GPU code for this GPU",
        cause="The binary was not compiled for this GPU's compute capability: a GPU older "
        "than the wheel supports (CUDA 13 builds drop Maxwell, Pascal and Volta), a very new "
        "GPU on an old wheel, or a CUDA extension built for another architecture.",
        fixes=(
            'python -c "import torch; print(torch.cuda.get_device_capability(), '
            'torch.cuda.get_arch_list())"   # the GPU must be in the list',
            "ndgrad doctor   # prints a torch wheel that fits this GPU and driver",
            NDGRAD_RUN,
        ),
        source="https://github.com/pytorch/pytorch/issues/31981; "
        "https://github.com/MIC-DKFZ/nnUNet/issues/1040",
    ),
    KnownError(
        id="cuda-capability-not-compatible",
        matches="<GPU> with CUDA capability sm_NN is not compatible with the current PyTorch "
        "installation",
        pattern=r"with CUDA capability sm_(?P<sm>\d+) is not compatible with the current "
        r"PyTorch installation",
        title="GPU (sm_{sm}) not supported by this torch wheel",
        cause="The installed torch was built for other GPU architectures than sm_{sm} (the "
        "warning lists the ones it supports): a new GPU needs a newer CUDA build (e.g. RTX 50xx, "
        "sm_120, needs cu128 or later), an old one an older build.",
        fixes=(
            "pip uninstall -y torch torchvision torchaudio",
            "ndgrad doctor   # then run the install line it prints for this GPU",
        ),
        source="https://github.com/pytorch/pytorch/issues/45028; "
        "https://github.com/pytorch/pytorch/issues/150733",
    ),
    KnownError(
        id="cuda-gpu-too-old",
        matches="Found GPU0 <name> which is of cuda capability N.M. PyTorch no longer supports "
        "this GPU because it is too old.",
        pattern=r"(?:which is of cuda capability (?P<cc>\d+\.\d+)\.?\s+)?PyTorch no longer "
        r"supports this GPU because it is too old",
        title="GPU too old for this torch wheel",
        cause="The GPU's compute capability ({cc}) is below the oldest one the installed wheel "
        "was built for; PyPI wheels drop old architectures (the CUDA 13 builds start at 7.5).",
        fixes=(
            "ndgrad doctor   # prints the newest wheel built for this GPU (e.g. cu126, not cu130)",
            "use the CPU: device = 'cpu'; " + NDGRAD_RUN,
        ),
        source="https://github.com/pytorch/pytorch/issues/16712; "
        "https://github.com/AUTOMATIC1111/stable-diffusion-webui/issues/3003",
    ),
    KnownError(
        id="cuda-out-of-memory",
        matches="torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate ...",
        pattern=r"CUDA out of memory",
        title="The GPU ran out of memory",
        cause="The model, a batch and its activations do not fit in the GPU's memory (or another "
        "process holds it: see nvidia-smi).",
        fixes=(
            "lower the batch size (and evaluate under `with torch.no_grad():`)",
            "nvidia-smi   # other processes (an old notebook kernel) may hold the memory",
            "export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True   # against fragmentation",
        ),
        source="https://github.com/fudan-generative-vision/hallo/issues/143; "
        "https://github.com/Li-Chongyi/Zero-DCE/issues/52",
    ),
    KnownError(
        id="cudnn-not-initialized",
        matches="cuDNN error: CUDNN_STATUS_NOT_INITIALIZED",
        pattern=r"CUDNN_STATUS_NOT_INITIALIZED",
        title="cuDNN could not start",
        cause="cuDNN failed to create its handle: usually the GPU is out of memory, or the cuDNN "
        "loaded does not match torch's CUDA (a system cuDNN on LD_LIBRARY_PATH, a broken driver).",
        fixes=(
            "lower the batch size first (cuDNN reports an out-of-memory GPU this way)",
            "unset LD_LIBRARY_PATH   # if it points at a system CUDA/cuDNN",
            *REINSTALL_TORCH_TRIO,
        ),
        source="https://github.com/pytorch/pytorch/issues/1171; "
        "https://github.com/yukkyo/PyTorch-FilterResponseNormalizationLayer/issues/4",
    ),
    KnownError(
        id="libcudnn-missing",
        matches="ImportError: libcudnn.so.N: cannot open shared object file",
        pattern=r"(?P<lib>lib(?:cudnn|cudnn_\w+)\.so(?:\.\d+)*): cannot open shared object file",
        title="{lib} not found",
        cause="torch's CUDA wheel loads cuDNN from the nvidia-cudnn-cuXX pip package; it is "
        "missing, of the wrong version, or installed where torch does not look (e.g. a venv "
        "split into lib and lib64).",
        fixes=(
            "pip list | grep -i nvidia   # the nvidia-* packages torch needs",
            "pip uninstall -y torch $(pip list | grep -o '^nvidia-[^ ]*')",
            "pip install torch torchvision --index-url " + WHEEL_INDEX + "/<cu126|cu128|cpu>",
        ),
        source="https://github.com/pytorch/pytorch/issues/104259; "
        "https://github.com/pytorch/pytorch/issues/165812",
    ),
    KnownError(
        id="libcudart-missing",
        matches="libcudart.so.N / libcublas.so.N / libnvrtc.so.N: cannot open shared object file",
        pattern=r"(?P<lib>lib(?:cudart|cublas\w*|cusparse|cufft|curand|nvrtc|nvJitLink|nccl|"
        r"torch_cuda\w*|c10_cuda)\.so(?:\.\d+)*): cannot open shared object file",
        title="CUDA library {lib} not found",
        cause="A CUDA runtime library that the program (or its torch wheel) links against is "
        "missing: the nvidia-*-cuXX pip packages were removed or mixed, or a package built for "
        "a system CUDA toolkit is used without one.",
        fixes=(
            "pip list | grep -i nvidia",
            *REINSTALL_TORCH_TRIO,
        ),
        source="https://github.com/pytorch/pytorch/issues/104259; "
        "https://github.com/semchan/NLUT/issues/15",
    ),
    KnownError(
        id="nvidia-smi-no-driver",
        matches="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver",
        pattern=r"NVIDIA-SMI has failed because it couldn.t communicate with the NVIDIA driver",
        title="No running NVIDIA driver",
        cause="nvidia-smi is installed but the kernel driver is not loaded: not installed for "
        "the running kernel (after a kernel update), blocked by nouveau/Secure Boot, or a "
        "container started without GPUs.",
        fixes=(
            "lsmod | grep nvidia   # Linux: is the module loaded?",
            "sudo ubuntu-drivers autoinstall && sudo reboot   # Ubuntu; else NVIDIA's installer",
            "docker run --gpus all ...   # in Docker",
            NDGRAD_RUN,
        ),
        source="https://github.com/NVIDIA/nvidia-docker/issues/988; "
        "https://github.com/microsoft/WSL/issues/7716",
    ),
    KnownError(
        id="cuda-no-nvidia-driver",
        matches="Found no NVIDIA driver on your system",
        pattern=r"Found no NVIDIA driver on your system",
        title="torch finds no NVIDIA driver",
        cause="The code asks for CUDA (`.cuda()`, `device='cuda'`) on a machine without an "
        "NVIDIA GPU or driver (a laptop with Intel/AMD graphics, a CPU-only Colab runtime).",
        fixes=(
            "device = 'cuda' if torch.cuda.is_available() else 'cpu'   # then .to(device)",
            NDGRAD_RUN,
        ),
        source="https://github.com/mks0601/I2L-MeshNet_RELEASE/issues/105; "
        "https://github.com/googlecolab/colabtools/issues/5329",
    ),
    KnownError(
        id="cuda-device-side-assert",
        matches="CUDA error: device-side assert triggered",
        pattern=r"device-side assert(?:ion)? triggered|device side assert triggered",
        title="A CUDA kernel's assertion failed",
        cause="A check inside a GPU kernel failed, most often an index out of range: a class "
        "label >= the number of classes in cross_entropy, or an embedding index >= its size. "
        "CUDA reports it asynchronously, so the traceback's line may be wrong.",
        fixes=(
            "CUDA_LAUNCH_BLOCKING=1 python script.py   # the real failing line",
            "run the same code on CPU: the error becomes a readable IndexError",
            "print(labels.min(), labels.max(), num_classes)   # labels must be in [0, C)",
        ),
        source="https://github.com/pytorch/pytorch/issues/74079; "
        "https://github.com/pytorch/pytorch/pull/132057",
    ),
    KnownError(
        id="tensors-different-devices",
        matches="Expected all tensors to be on the same device, but found at least two devices",
        pattern=r"Expected all tensors to be on the same device",
        title="Tensors on different devices",
        cause="An operation mixes a tensor on the GPU with one on the CPU (usually the model was "
        "moved with .to(device) but the batch, or a tensor created in forward(), was not).",
        fixes=(
            "model.to(device); X, y = X.to(device), y.to(device)   # every batch",
            "torch.zeros(..., device=x.device)   # tensors made inside forward()",
        ),
        source="https://github.com/wmyw96/FAST-NN/issues/1; "
        "https://discuss.pytorch.org/t/expected-all-tensors-to-be-on-the-same-device-but-found-"
        "at-least-two-devices-cuda-0-and-cpu-error/151314",
    ),
    KnownError(
        id="input-weight-type-mismatch",
        matches="Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should "
        "be the same",
        pattern=r"Input type \([\w.]+\) and weight type \([\w.]+\) should be the same",
        title="Input and weights on different devices (or dtypes)",
        cause="A layer's weights are on the GPU and its input on the CPU, or the other way "
        "round (or one is half precision).",
        fixes=("model.to(device); X = X.to(device)",),
        source="https://github.com/ML4ITS/mtad-gat-pytorch/issues/23; "
        "https://github.com/sksq96/pytorch-summary/issues/16",
    ),
    KnownError(
        id="cuda-deserialize-no-gpu",
        matches="Attempting to deserialize object on a CUDA device but "
        "torch.cuda.is_available() is False",
        pattern=r"Attempting to deserialize object on a CUDA device",
        title="A GPU checkpoint loaded without a GPU",
        cause="The file was saved from GPU tensors; this machine (or this torch, if CPU-only) "
        "has no CUDA, so torch.load cannot put them back there.",
        fixes=("torch.load(path, map_location='cpu')",),
        source="https://github.com/invoke-ai/InvokeAI/issues/3442; "
        "https://github.com/hkchengrex/Cutie/issues/37",
    ),
    KnownError(
        id="cuda-fork-reinit",
        matches="Cannot re-initialize CUDA in forked subprocess",
        pattern=r"Cannot re-initialize CUDA in forked subprocess",
        title="CUDA used in a forked DataLoader worker",
        cause="CUDA was initialised in the main process and then used in a worker started "
        "with fork (e.g. moving data to the GPU inside Dataset.__getitem__).",
        fixes=(
            "move tensors to the GPU in the training loop, not in the Dataset",
            "torch.multiprocessing.set_start_method('spawn')   # if workers must use CUDA",
        ),
        source="https://github.com/facebookresearch/pycls/issues/183; "
        "https://github.com/traveller59/spconv/issues/408",
        rank=1,
    ),
)

WINDOWS_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        id="windows-torch-dll-126",
        matches='[WinError 126] ... Error loading "...\\torch\\lib\\c10.dll" (or fbgemm.dll) or '
        "one of its dependencies",
        pattern=r"\[WinError (?P<code>126|127|1114)\][^\n]*?Error loading \"?[^\"\n]*?"
        r"(?P<dll>c10(?:_cuda)?\.dll|fbgemm\.dll|torch_\w+\.dll|caffe2\w*\.dll|\w+\.dll)",
        title="Windows cannot load torch's {dll}",
        cause="A DLL that {dll} depends on is missing: most often the Microsoft Visual C++ "
        "Redistributable (fbgemm.dll needs libomp140 from it), or the torch install is broken.",
        fixes=(
            "install the latest Microsoft Visual C++ Redistributable (x64): "
            "https://aka.ms/vs/17/release/vc_redist.x64.exe, then restart the terminal",
            "pip install --force-reinstall torch   # if the DLL file itself is missing",
            NDGRAD_RUN,
        ),
        source="https://github.com/pytorch/pytorch/issues/131662; "
        "https://github.com/AUTOMATIC1111/stable-diffusion-webui/issues/9929; "
        "https://github.com/nagadomi/nunif/issues/701",
        rank=1,
    ),
    KnownError(
        id="windows-dll-load-failed",
        matches="ImportError: DLL load failed (while importing <module>)",
        pattern=r"DLL load failed(?: while importing (?P<module>\w+))?",
        title="Windows could not load a compiled module",
        cause="A package's compiled extension (or a DLL it needs) cannot load: a missing Visual "
        "C++ Redistributable, a pip/conda mix, or 32-bit/64-bit mismatch.",
        fixes=(
            "install the latest Microsoft Visual C++ Redistributable (x64): "
            "https://aka.ms/vs/17/release/vc_redist.x64.exe",
            "pip install --force-reinstall <the package in the traceback>   # with the "
            "installer that owns the env (pip or conda, not both)",
        ),
        source="https://github.com/pytorch/pytorch/issues/31324; "
        "https://github.com/pytorch/vision/issues/7468",
    ),
    KnownError(
        id="omp-error-15",
        matches="OMP: Error #15: Initializing libiomp5md.dll, but found libiomp5md.dll already "
        "initialized",
        pattern=r"OMP: Error #15",
        title="Two OpenMP runtimes in one process",
        cause="Two packages each bring their own Intel OpenMP (libiomp5): typically conda's MKL "
        "numpy together with pip's torch, or several conda channels mixed.",
        fixes=(
            "conda install nomkl   # or install numpy and torch with the same installer",
            "set KMP_DUPLICATE_LIB_OK=TRUE   # Intel's unsafe workaround: may crash or give "
            "wrong results",
            NDGRAD_RUN,
        ),
        source="https://github.com/HiLab-git/MIDeepSeg/issues/4; "
        "https://github.com/harry0703/MoneyPrinterTurbo/issues/90",
    ),
    KnownError(
        id="windows-bootstrapping-phase",
        matches="An attempt has been made to start a new process before the current process has "
        "finished its bootstrapping phase",
        pattern=r"start a new process before the\s+current process has finished its "
        r"bootstrapping phase",
        title="DataLoader workers without `if __name__ == '__main__':`",
        cause="On Windows and macOS, DataLoader workers (num_workers > 0) are started by "
        "re-importing the script; code at module level starts them again.",
        fixes=(
            "put the training code under `if __name__ == '__main__':`",
            "DataLoader(..., num_workers=0)",
        ),
        source="https://github.com/pytorch/tutorials/issues/1661; "
        "https://github.com/Project-MONAI/MONAI/issues/755",
    ),
)

NUMPY_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        id="numpy2-abi",
        matches="A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x.y",
        pattern=r"compiled using NumPy 1\.x cannot be run in\s+NumPy (?P<numpy>2[\d.]*)|"
        r"_ARRAY_API not found",
        title="A package built for NumPy 1.x with NumPy 2",
        cause="A compiled package (an old torch before 2.3, opencv, pandas, ...) was built "
        "against NumPy 1.x and cannot run with NumPy 2.",
        fixes=(
            'pip install "numpy<2"   # quickest',
            "pip install -U <the package in the traceback>   # or upgrade it (torch >= 2.3 "
            "supports NumPy 2)",
        ),
        source="https://github.com/jupyter/notebook/issues/7522; "
        "https://github.com/pytorch/pytorch/issues/132179",
    ),
    KnownError(
        id="numpy-not-available",
        matches="RuntimeError: Numpy is not available",
        pattern=r"Numpy is not available",
        title="torch cannot use this NumPy",
        cause="torch's NumPy bridge failed to initialise: the NumPy installed is newer than "
        "this torch supports (NumPy 2 with torch < 2.3), or missing.",
        fixes=('pip install "numpy<2"   # or: pip install -U torch',),
        source="https://github.com/pytorch/pytorch/issues/132179; "
        "https://github.com/pytorch/pytorch/issues/78341",
    ),
    KnownError(
        id="numpy-dtype-size-changed",
        matches="ValueError: numpy.dtype size changed, may indicate binary incompatibility",
        pattern=r"numpy\.dtype size changed, may indicate binary incompatibility",
        title="A package compiled against another NumPy",
        cause="A compiled package (often pandas or scikit-learn) was built for a different NumPy "
        "ABI than the one installed.",
        fixes=(
            "pip install -U --force-reinstall <the package in the traceback> numpy",
            'pip install "numpy<2"   # if the package has no NumPy 2 build',
        ),
        source="https://github.com/matterport/Mask_RCNN/issues/3063; "
        "https://github.com/absadiki/subsai/pull/139",
    ),
    KnownError(
        id="numpy-removed-alias",
        matches="AttributeError: module 'numpy' has no attribute 'float' (or int, bool, object)",
        pattern=r"module ['\"]numpy['\"] has no attribute ['\"](?P<alias>float|int|bool|object|"
        r"complex|str|long|unicode|NaN|Inf)['\"]|`np\.(?P<alias2>NaN|Inf|float_|infty)` was "
        r"removed in the NumPy 2\.0 release",
        title="A NumPy alias (np.float, np.int, np.NaN, ...) was removed",
        cause="NumPy 1.24 removed the aliases np.float/np.int/np.bool/np.object (deprecated in "
        "1.20) and NumPy 2.0 removed np.NaN/np.Inf; the code (or an old library) still uses them.",
        fixes=(
            "write float / int / bool / object (or np.float64, np.int64, np.nan) instead",
            'pip install "numpy<1.24"   # for an old library you cannot change',
        ),
        source="https://github.com/thuml/Transfer-Learning-Library/issues/253; "
        "https://github.com/JuergenFleiss/atrain_core/issues/10",
    ),
)

PACKAGE_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        id="no-module-torch",
        matches="ModuleNotFoundError: No module named 'torch' (e.g. in Jupyter, while the "
        "shell imports it)",
        pattern=r"No module named ['\"]?torch['\"]?(?![\w.])",
        title="torch is not installed in the Python that runs this code",
        cause="This Python has no torch. In Jupyter the notebook kernel often runs another "
        "Python than the shell where `pip install torch` ran (conda base vs an env, another "
        "venv).",
        fixes=(
            WRONG_KERNEL_CHECK,
            PIP_IN_KERNEL.format(package="torch"),
            "python -m ipykernel install --user --name myenv   # from the env that has torch; "
            "then pick that kernel",
            NDGRAD_KERNEL,
            NDGRAD_RUN,
        ),
        source="https://github.com/pytorch/pytorch/issues/16103; "
        "https://github.com/jupyter/notebook/issues/4629",
    ),
    KnownError(
        id="no-module-torchvision",
        matches="ModuleNotFoundError: No module named 'torchvision'",
        pattern=r"No module named ['\"]?torchvision['\"]?(?![\w.])",
        title="torchvision is not installed in this Python",
        cause="torchvision is a separate package from torch, and must match it "
        "(torch 2.N pairs with torchvision 0.(N+15)).",
        fixes=(
            WRONG_KERNEL_CHECK,
            "ndgrad doctor   # prints the matching torch/torchvision pair for this machine",
        ),
        source="https://github.com/pytorch/pytorch/issues/16103; pytorch/vision README",
    ),
    KnownError(
        id="no-module-d2l",
        matches="ModuleNotFoundError: No module named 'd2l'",
        pattern=r"No module named ['\"]?d2l['\"]?(?![\w.])",
        title="d2l is not installed in this Python",
        cause="The d2l package is not installed where the code runs; `pip install d2l==1.0.3` "
        "often fails on Python >= 3.12 (it pins numpy 1.23.5, which must build from source).",
        fixes=(
            D2L_RECIPE,
            WRONG_KERNEL_CHECK,
            "ndgrad run my_d2l_program.py   # d2l's torch code on ndgrad",
        ),
        source="https://github.com/d2l-ai/d2l-en/issues/2625; ndgrad README "
        "('Dive into Deep Learning's library')",
    ),
    KnownError(
        id="no-module-ipykernel",
        matches="No module named 'ipykernel' (or ipykernel_launcher)",
        pattern=r"No module named ['\"]?ipykernel(?:_launcher)?['\"]?",
        title="The kernel's Python has no ipykernel",
        cause="A kernelspec points at a Python without ipykernel (the env was created without "
        "it, or re-created), so Jupyter/VS Code cannot start the kernel.",
        fixes=(
            "python -m pip install ipykernel   # with that env's python",
            'python -m ipykernel install --user --name myenv --display-name "Python (myenv)"',
            NDGRAD_KERNEL,
        ),
        source="ipython.readthedocs.io 'Installing the IPython kernel' "
        "(https://ipython.readthedocs.io/en/stable/install/kernel_install.html)",
    ),
    KnownError(
        id="tqdm-iprogress",
        matches="ImportError: IProgress not found. Please update jupyter and ipywidgets.",
        pattern=r"I(?:nt)?Progress not found\.? Please update jupyter and ipywidgets|"
        r"name ['\"]IProgress['\"] is not defined",
        title="tqdm's notebook progress bar needs ipywidgets",
        cause="tqdm.auto/tqdm.notebook draws its bar with ipywidgets, which is not installed in "
        "the kernel's environment.",
        fixes=(
            PIP_IN_KERNEL.format(package="ipywidgets") + ", then restart the kernel",
            "from tqdm import tqdm   # the text bar, without widgets",
        ),
        source="https://github.com/tqdm/tqdm/issues/1072; "
        "https://github.com/aws/amazon-sagemaker-examples/issues/3154",
    ),
    KnownError(
        id="d2l-old-api-train-ch3",
        matches="AttributeError: module 'd2l.torch' has no attribute 'train_ch3' (train_ch6, "
        "load_data_time_machine, ...)",
        pattern=r"module ['\"]d2l(?:\.torch)?['\"] has no attribute ['\"](?P<name>train_ch\d+|"
        r"predict_ch\d+|load_data_\w+|evaluate_accuracy\w*|sgd|linreg|squared_loss|"
        r"train_epoch_ch\d+|Accumulator|Animator)['\"]",
        title="d2l 1.x no longer has {name} (book edition mismatch)",
        cause="`{name}` belongs to the 0.17 edition of Dive into Deep Learning; d2l 1.0 "
        "refactored the book's code into classes (d2l.Trainer, d2l.Module) and removed it.",
        fixes=(
            "pip install d2l==0.17.6   # to follow the 0.17 edition (zh.d2l.ai, old PDFs)",
            "or follow the current edition at d2l.ai, whose code uses d2l 1.0.3",
        ),
        source="https://github.com/d2l-ai/d2l-en/issues/2557",
    ),
    KnownError(
        id="d2l-new-api-hyperparameters",
        matches="AttributeError: module 'd2l.torch' has no attribute 'HyperParameters' "
        "(Module, Trainer, DataModule, ...)",
        pattern=r"module ['\"]d2l(?:\.torch)?['\"] has no attribute ['\"](?P<name>HyperParameters|"
        r"Module|Trainer|DataModule|ProgressBoard|SyntheticRegressionData|"
        r"LinearRegressionScratch|Classifier|add_to_class)['\"]",
        title="d2l 0.x lacks {name} (book edition mismatch)",
        cause="`{name}` belongs to the 1.0 edition of the book (d2l.ai); the installed d2l is "
        "the 0.17 edition's.",
        fixes=(
            D2L_RECIPE,
            "ndgrad run my_d2l_program.py   # d2l 1.0.3's torch code runs on ndgrad",
        ),
        source="https://github.com/d2l-ai/d2l-en/issues/2507; "
        "https://github.com/d2l-ai/d2l-en/issues/1910",
    ),
    KnownError(
        id="torch-load-weights-only",
        matches="_pickle.UnpicklingError: Weights only load failed ... weights_only",
        pattern=r"Weights only load failed",
        title="torch.load now refuses pickled objects by default",
        cause="Since PyTorch 2.6, torch.load defaults to weights_only=True and loads only "
        "tensors and plain containers; this file holds other Python objects (a whole model, "
        "NumPy arrays, an optimizer's custom classes).",
        fixes=(
            "torch.load(path, weights_only=False)   # only for files you trust: it runs code",
            "torch.serialization.add_safe_globals([YourClass])   # allow specific classes",
            "save model.state_dict() rather than the model object",
        ),
        source="https://github.com/gpoesia/minimo/pull/21; https://github.com/e3nn/e3nn/issues/519",
    ),
    KnownError(
        id="dataloader-worker-killed",
        matches="DataLoader worker (pid N) is killed by signal: Killed / Bus error; "
        "DataLoader worker (pid(s) ...) exited unexpectedly",
        pattern=r"DataLoader worker \(pid(?:\(s\))? [^)]*\) (?:is killed by signal: "
        r"(?P<signal>[\w ]+)|exited unexpectedly)",
        title="A DataLoader worker process died",
        cause="A worker was killed: out of RAM (signal Killed: each worker copies the dataset), "
        "out of shared memory (Bus error: Docker's 64 MB /dev/shm), or a crash in the Dataset.",
        fixes=(
            "DataLoader(..., num_workers=0)   # shows the real error, if any",
            "lower num_workers and batch_size; free -m to watch memory",
            "docker run --shm-size=8g ...   # or --ipc=host, for 'Bus error'",
        ),
        source="https://github.com/pytorch/pytorch/issues/8976; "
        "https://github.com/pytorch/pytorch/issues/5040",
    ),
)

AUTOGRAD_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        id="autograd-no-grad-fn",
        matches="element 0 of tensors does not require grad and does not have a grad_fn",
        pattern=r"element \d+ of tensors does not require grad and does not have a grad_fn",
        title="backward() on a tensor that is not part of a graph",
        cause="Nothing the loss depends on requires grad: the parameters were created without "
        "requires_grad=True, the loss was computed under torch.no_grad(), or the graph was cut "
        "by .detach(), .item(), .numpy() or torch.tensor(...) on an intermediate value.",
        fixes=(
            "w = torch.zeros(2, 1, requires_grad=True)   # parameters need requires_grad",
            "compute the loss outside `with torch.no_grad():` and without .item()/.detach()",
        ),
        source="https://github.com/pytorch/pytorch/issues/19806; "
        "https://github.com/ronghuaiyang/arcface-pytorch/issues/56",
    ),
    KnownError(
        id="autograd-backward-twice",
        matches="Trying to backward through the graph a second time",
        pattern=r"Trying to backward through the graph a second time",
        title="backward() twice through the same graph",
        cause="backward() frees the graph's saved values; a second backward() through the same "
        "graph (often a value kept from the previous iteration, e.g. a hidden state, or "
        "loss.backward() called twice) has nothing to use.",
        fixes=(
            "recompute the forward pass for every backward()",
            "h = h.detach()   # carry a state across iterations without its graph",
            "loss.backward(retain_graph=True)   # only if you really need two backwards",
        ),
        source="https://github.com/davda54/sam/issues/45; "
        "https://discuss.pytorch.org/t/runtimeerror-trying-to-backward-through-the-graph-a-"
        "second-time-but-the-buffers-have-already-been-freed-specify-retain-graph-true-when-"
        "calling-backward-the-first-time/6795",
    ),
    KnownError(
        id="autograd-leaf-inplace",
        matches="a leaf Variable that requires grad is being used in an in-place operation",
        pattern=r"a (?:view of a )?leaf Variable that requires grad is being used in an "
        r"in-place operation",
        title="In-place change of a parameter outside no_grad",
        cause="A hand-written update such as `w -= lr * w.grad` (or `w[0] = ...`) modifies a "
        "leaf tensor that requires grad while autograd is recording.",
        fixes=(
            "with torch.no_grad():\n        w -= lr * w.grad\n        w.grad.zero_()",
            "or use torch.optim.SGD([w], lr=lr)",
        ),
        source="https://github.com/pytorch/examples/pull/779; "
        "https://github.com/BaiTheBest/SparseLLM/issues/13",
    ),
    KnownError(
        id="autograd-inplace-modified",
        matches="one of the variables needed for gradient computation has been modified by an "
        "inplace operation",
        pattern=r"one of the variables needed for gradient computation has been modified by an "
        r"inplace operation",
        title="A tensor saved for backward was changed in place",
        cause="The forward pass saved a tensor for the backward pass, then an in-place op "
        "(`x += 1`, `relu_`, nn.ReLU(inplace=True), `x[i] = ...`) changed it before backward().",
        fixes=(
            "replace the in-place op by its out-of-place form: x = x + 1, torch.relu(x)",
            "torch.autograd.set_detect_anomaly(True)   # names the forward op involved",
        ),
        source="https://github.com/pytorch/pytorch/issues/96265; "
        "https://github.com/Jee-King/TSAN/issues/3",
    ),
    KnownError(
        id="autograd-numpy-requires-grad",
        matches="Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
        "instead.",
        pattern=r"Can't call numpy\(\) on (?:Tensor|Variable) that requires grad",
        title=".numpy() on a tensor that requires grad",
        cause="NumPy cannot record gradients, so torch refuses to hand over a tensor that is "
        "part of a graph (e.g. when plotting predictions or a loss).",
        fixes=("y.detach().numpy()   # .detach().cpu().numpy() for a GPU tensor",),
        source="https://github.com/pytorch/pytorch/issues/44023; "
        "https://github.com/zhuangdizhu/FedGen/issues/1",
    ),
    KnownError(
        id="numpy-on-cuda-tensor",
        matches="can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
        "tensor to host memory first.",
        pattern=r"can't convert cuda(?::\d+)? device type tensor to numpy",
        title=".numpy() on a GPU tensor",
        cause="NumPy arrays live in CPU memory; the tensor is on the GPU.",
        fixes=("t.detach().cpu().numpy()",),
        source="https://github.com/JDAI-CV/fast-reid/pull/509; "
        "https://github.com/Zhongdao/Towards-Realtime-MOT/issues/257",
    ),
    KnownError(
        id="autograd-grad-not-scalar",
        matches="grad can be implicitly created only for scalar outputs",
        pattern=r"grad can be implicitly created only for scalar outputs",
        title="backward() on a non-scalar tensor",
        cause="backward() without an argument needs a scalar (a loss); this tensor has several "
        "elements (e.g. reduction='none', or y = x * 2 for a vector x).",
        fixes=(
            "y.sum().backward()   # or y.mean(); d2l writes y.sum().backward()",
            "y.backward(torch.ones_like(y))   # the same, as a vector-Jacobian product",
        ),
        source="https://github.com/1Konny/gradcam_plus_plus-pytorch/issues/7; "
        "https://github.com/cybertronai/autograd-hacks/issues/7",
    ),
    KnownError(
        id="shape-mat1-mat2",
        matches="mat1 and mat2 shapes cannot be multiplied (AxB and CxD)",
        pattern=r"mat1 and mat2 shapes cannot be multiplied \((?P<a>\d+)x(?P<b>\d+) and "
        r"(?P<c>\d+)x(?P<d>\d+)\)",
        title="Linear layer input size mismatch ({b} features vs {c} expected)",
        cause="The input has {b} features per example but the layer (nn.Linear) expects {c}: "
        "in_features is wrong, or the input was not flattened (images: nn.Flatten() first).",
        fixes=(
            "nn.Linear({b}, out_features)   # in_features must equal the input's last size",
            "nn.Flatten()   # before the first Linear on image batches",
            "nn.LazyLinear(out_features)   # infers in_features on the first call",
        ),
        source="https://github.com/THUDM/GraphMAE/issues/51; "
        "https://github.com/bharat-b7/RVH_Mesh_Registration/issues/19",
    ),
    KnownError(
        id="shape-mat1-mat2-dtype",
        matches="mat1 and mat2 must have the same dtype",
        pattern=r"mat1 and mat2 must have the same dtype",
        title="Matrix product of float32 and float64",
        cause="One operand is float64 (a tensor made from a NumPy array) and the other float32 "
        "(the model's weights).",
        fixes=("X = torch.as_tensor(X, dtype=torch.float32)   # or X.float()",),
        source="https://github.com/pytorch/pytorch/issues/105243; "
        "https://github.com/yandex-research/tabular-dl-tabr/issues/23",
    ),
    KnownError(
        id="dtype-double-float",
        matches="expected scalar type Double but found Float (or Float but found Double)",
        pattern=r"expected (?:scalar type|m1 and m2 to have the same dtype, but got:?) "
        r"(?P<want>Double|Float|Half|BFloat16|double|float)(?: but found| !=) "
        r"(?P<got>Double|Float|Half|BFloat16|double|float)|Found dtype (?P<got2>Double|Float) "
        r"but expected (?P<want2>Float|Double)",
        title="float32 and float64 mixed",
        cause="Tensors built from NumPy arrays are float64 (Double) while nn layers use float32 "
        "(Float); an op got both.",
        fixes=(
            "X = torch.from_numpy(X).float()   # or torch.tensor(X, dtype=torch.float32)",
            "y = y.float()   # targets of MSELoss/BCELoss too",
        ),
        source="https://github.com/OUCMachineLearning/OUCML/issues/24; "
        "https://github.com/Rickyyy-zh/yolov7_3d/issues/8",
    ),
    KnownError(
        id="dtype-expected-long",
        matches="expected scalar type Long but found Float (class targets of cross_entropy)",
        pattern=r"expected scalar type Long but found (?:Float|Int|Double)|"
        r"Expected object of scalar type Long but got scalar type (?:Float|Int|Double)|"
        r"\"nll_loss\w*\" not implemented for '(?:Float|Int|Double)'",
        title="Class labels must be int64",
        cause="cross_entropy / nll_loss take class indices as int64 (Long); these labels are "
        "float or int32.",
        fixes=("loss = F.cross_entropy(logits, y.long())",),
        source="https://github.com/jfzhang95/pytorch-video-recognition/issues/71; "
        "https://github.com/milesial/Pytorch-UNet/issues/93",
        rank=1,
    ),
    KnownError(
        id="target-out-of-bounds",
        matches="IndexError: Target N is out of bounds.",
        pattern=r"Target (?P<target>-?\d+) is out of bounds",
        title="Class label {target} outside [0, number of classes)",
        cause="cross_entropy/nll_loss need labels in 0..C-1 for C output units; label {target} "
        "is not (labels starting at 1, or an output layer with too few units).",
        fixes=(
            "print(y.min(), y.max(), logits.shape[1])   # need 0 <= y < C",
            "y = y - 1   # labels numbered from 1; or widen the last nn.Linear to C outputs",
        ),
        source="https://github.com/pytorch/pytorch/issues/50259; "
        "https://github.com/pytorch/pytorch/pull/5299",
    ),
    KnownError(
        id="batch-size-mismatch",
        matches="Expected input batch_size (N) to match target batch_size (M).",
        pattern=r"Expected input batch_size \((?P<n>\d+)\) to match target batch_size "
        r"\((?P<m>\d+)\)",
        title="Predictions and targets have different batch sizes ({n} vs {m})",
        cause="The model's output has {n} rows but there are {m} targets: usually a wrong "
        "view/reshape (e.g. x.view(-1, 16*5*5) with the wrong size) merges or splits examples.",
        fixes=("x = torch.flatten(x, 1)   # flatten per example, keep the batch dimension",),
        source="https://github.com/pytorch/pytorch/issues/139031; "
        "https://github.com/meetps/pytorch-semseg/issues/127",
    ),
    KnownError(
        id="broadcast-size-mismatch",
        matches="The size of tensor a (N) must match the size of tensor b (M) at non-singleton "
        "dimension K",
        pattern=r"The size of tensor a \((?P<a>\d+)\) must match the size of tensor b "
        r"\((?P<b>\d+)\) at non-singleton dimension (?P<dim>\d+)",
        title="Shapes that do not broadcast ({a} vs {b} at dimension {dim})",
        cause="An element-wise op got tensors whose sizes differ at dimension {dim} where "
        "neither is 1. A classic: predictions of shape (n, 1) against targets of shape (n,) "
        "broadcast to (n, n) silently; here the sizes do not fit at all.",
        fixes=(
            "print(a.shape, b.shape)   # make them equal or 1 where they differ",
            "y_hat.reshape(y.shape)   # d2l's squared_loss does this",
        ),
        source="https://docs.pytorch.org/docs/stable/notes/broadcasting.html",
    ),
    KnownError(
        id="view-not-contiguous",
        matches="view size is not compatible with input tensor's size and stride ... Use "
        ".reshape(...) instead.",
        pattern=r"view size is not compatible with input tensor's size and stride",
        title=".view() on a non-contiguous tensor",
        cause="After transpose/permute the tensor's memory is not contiguous, which .view() needs.",
        fixes=("x.reshape(...)   # or x.contiguous().view(...)",),
        source="https://github.com/sergeywong/cp-vton/issues/30; "
        "https://github.com/open-mmlab/mmpretrain/pull/104",
    ),
    KnownError(
        id="bool-ambiguous",
        matches="Boolean value of Tensor with more than one value is ambiguous",
        pattern=r"Boolean value of Tensor with more than one (?:value|element) is ambiguous",
        title="`if tensor:` on a tensor with several elements",
        cause="Python's if/and/or need one truth value; a comparison of tensors gives one per "
        "element.",
        fixes=("use (a == b).all(), .any(), or torch.equal(a, b)",),
        source="https://github.com/RussellTsuchida/snefy/issues/1; "
        "https://github.com/Atcold/pytorch-CortexNet/issues/10",
    ),
    KnownError(
        id="item-not-scalar",
        matches="only one element tensors can be converted to Python scalars",
        pattern=r"only one element tensors can be converted to Python scalars",
        title=".item() / float() on a tensor with several elements",
        cause="Only one-element tensors convert to a Python number (e.g. a loss with "
        "reduction='none', or a list of tensors passed to torch.tensor).",
        fixes=("loss.mean().item()   # reduce first; torch.stack(list_of_tensors) for lists",),
        source="https://github.com/pytorch/pytorch/pull/5090; "
        "https://github.com/avishkarsaha/translating-images-into-maps/issues/12",
    ),
    KnownError(
        id="state-dict-mismatch",
        matches="Error(s) in loading state_dict for <Model>: Missing key(s) / Unexpected key(s) "
        "/ size mismatch",
        pattern=r"Error\(s\) in loading state_dict for (?P<model>\w+)",
        title="Checkpoint does not fit the model {model}",
        cause="The saved parameter names or shapes differ from the model's: another "
        "architecture, a `module.` prefix from nn.DataParallel, or a changed layer size.",
        fixes=(
            "model.load_state_dict(state, strict=False)   # to see/skip the differences",
            "state = {{k.removeprefix('module.'): v for k, v in state.items()}}   # DataParallel",
        ),
        source="https://github.com/aks2203/deep-thinking/issues/5; "
        "https://github.com/hou-yz/MVDet/issues/7",
    ),
    KnownError(
        id="conv-channels-mismatch",
        matches="Given groups=1, weight of size [...], expected input[...] to have C channels, "
        "but got K channels instead",
        pattern=r"expected input\[[^\]]*\] to have (?P<want>\d+) channels, but got (?P<got>\d+) "
        r"channels instead",
        title="Image channels do not match the first conv layer ({got} vs {want})",
        cause="The conv layer expects {want} input channels; the batch has {got} (grayscale vs "
        "RGB, or channels-last images that were not permuted to NCHW).",
        fixes=(
            "nn.Conv2d({got}, ...)   # or convert images: transforms.Grayscale / .convert('RGB')",
            "x = x.permute(0, 3, 1, 2)   # NHWC -> NCHW",
        ),
        source="https://github.com/avBuffer/UNet3plus_pth/issues/19; "
        "https://github.com/zshuai8/FedGMM_ICML2023/issues/2",
    ),
)

KNOWN_ERRORS: tuple[KnownError, ...] = (
    SETUP_ERRORS + CUDA_ERRORS + WINDOWS_ERRORS + NUMPY_ERRORS + PACKAGE_ERRORS + AUTOGRAD_ERRORS
)
