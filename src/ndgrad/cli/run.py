"""``ndgrad run``: run a PyTorch script or notebook unchanged, with ``import torch`` -> ndgrad.

A script runs as ``__main__`` with ``sys.argv`` set, as ``python script.py ARGS`` would run it,
after ``ndgrad.install_as_torch()``. A notebook runs in a Jupyter kernel started as
``python -m ndgrad.kernel`` (the alias installed before the kernel starts), through nbclient,
so magics, rich display and plots behave as in Jupyter; the executed copy is written beside it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import traceback
import types
from pathlib import Path

import typer

_NOTEBOOK_EXTRA = "pip install 'ndgrad[notebooks]'  (nbclient, nbformat, ipykernel)"


def _usage(message: str) -> typer.Exit:
    typer.echo(f"ndgrad run: error: {message}", err=True)
    return typer.Exit(2)


def _ndgrad_dir() -> Path:
    import ndgrad

    return Path(ndgrad.__file__).resolve().parent


def _inside_ndgrad(filename: str) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(_ndgrad_dir())
    except (OSError, ValueError):
        return False


def _public_name(cls: type) -> str:
    """``ndgrad._tensor.Tensor`` -> ``torch.Tensor``: where PyTorch's user would look it up."""
    import ndgrad
    from ndgrad.alias import torch_name

    for module_name in ("ndgrad", "ndgrad.nn", "ndgrad.optim", "ndgrad.utils.data"):
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, cls.__name__, None) is cls:
            return f"{torch_name(module_name)}.{cls.__name__}"
    del ndgrad
    return f"{torch_name(cls.__module__)}.{cls.__name__}"


def missing_api(exc: BaseException) -> str | None:
    """The PyTorch API an exception says ndgrad lacks, or None if it is not such an error."""
    from ndgrad.alias import torch_name

    if isinstance(exc, ModuleNotFoundError):
        name = exc.name or ""
        if name.split(".")[0] in ("torch", "torchvision") and "ndgrad" in str(exc):
            return name
        return None
    if isinstance(exc, ImportError):  # `from torch import fx`: cannot import name 'fx' from ...
        found = re.match(r"cannot import name '(\w+)'", str(exc))
        if found and (exc.name or "").startswith("ndgrad"):
            return f"{torch_name(exc.name)}.{found.group(1)}"
        return None
    if isinstance(exc, AttributeError) and exc.name:
        obj = getattr(exc, "obj", None)
        if isinstance(obj, types.ModuleType):
            if obj.__name__.startswith("ndgrad"):
                return f"{torch_name(obj.__name__)}.{exc.name}"
            return None
        cls = obj if isinstance(obj, type) else type(obj)
        if obj is not None and cls.__module__.startswith("ndgrad"):
            return f"{_public_name(cls)}.{exc.name}"
        return None
    if isinstance(exc, NotImplementedError):
        frames = traceback.extract_tb(exc.__traceback__)
        if frames and _inside_ndgrad(frames[-1].filename):
            return str(exc).split("\n")[0] or "this PyTorch API"
    return None


def _user_frame(exc: BaseException) -> tuple[str, int | None]:
    """The deepest frame of the program (outside ndgrad): where it asked for the missing API."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _inside_ndgrad(f.filename)]
    if isinstance(exc, SyntaxError) or not frames:
        return (exc.filename if isinstance(exc, SyntaxError) else "?"), getattr(exc, "lineno", None)
    return frames[-1].filename, frames[-1].lineno


def _report(exc: BaseException) -> int:
    """One line for an API ndgrad lacks (exit 1); else Python's traceback, minus ours."""
    import ndgrad

    api = missing_api(exc)
    if api is not None:
        filename, line = _user_frame(exc)
        detail = " ".join(str(exc).split())
        if isinstance(exc, AttributeError) or type(exc) is ImportError:
            detail = f"{api} is not available in ndgrad {ndgrad.__version__} ({detail})"
        print(f"{filename}:{line}: {type(exc).__name__}: {detail}", file=sys.stderr)
        return 1
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next  # the program's frames only, as `python script.py` shows them
    traceback.print_exception(type(exc), exc, tb)
    return 1


def run_script(path: Path, args: list[str], verbose: bool = False) -> int:
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise _usage(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        where = f"{path}:{exc.lineno}" if isinstance(exc, SyntaxError) else str(path)
        msg = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise _usage(f"{where}: not a Python script ({msg})") from None

    from ndgrad.alias import install_as_torch
    from ndgrad.distributed.run import worker_environment

    worker_environment()  # a rank of `ndgrad run --nproc-per-node N`: RANK, LOCAL_RANK
    try:
        install_as_torch(verbose=verbose)
    except RuntimeError as exc:
        raise _usage(str(exc)) from None
    main = types.ModuleType("__main__")
    main.__file__ = str(path)
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    sys.argv = [str(path), *args]
    sys.path.insert(0, str(path.resolve().parent))  # as `python script.py` does
    try:
        exec(code, main.__dict__)  # noqa: S102 - running the user's program is the point
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _stop_other_ranks(1 if not isinstance(exc.code, int) else exc.code)
        raise
    except Exception as exc:  # the program's own error: reported as Python would, or one line
        status = _report(exc)
        _stop_other_ranks(status)
        return status
    return 0


def _stop_other_ranks(status: int) -> None:
    """A failed rank of `ndgrad run --nproc-per-node` ends the job, as under torchrun (the
    others would otherwise wait for it until their timeout)."""
    import os

    if "NDGRAD_LAUNCHED" in os.environ and "ndgrad.distributed.distributed_c10d" in sys.modules:
        sys.modules["ndgrad.distributed.distributed_c10d"].abort_job(status)


def run_notebook(path: Path, output: Path | None, verbose: bool = False, timeout: int = 600) -> int:
    try:
        import nbclient
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
    except ImportError as exc:
        raise _usage(f"running a notebook needs {exc.name}: {_NOTEBOOK_EXTRA}") from None
    try:
        notebook = nbformat.read(str(path), as_version=4)
    except OSError as exc:
        raise _usage(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # nbformat's NotJSONError, ValidationError, ...
        first = " ".join(str(exc).split())[:200]
        raise _usage(f"{path} is not a valid notebook ({type(exc).__name__}: {first})") from None
    import tempfile

    from ndgrad.kernel import write_kernel_spec

    output = output or path.with_name(f"{path.stem}.ndgrad{path.suffix}")
    with tempfile.TemporaryDirectory(prefix="ndgrad-kernel-") as tmp:
        write_kernel_spec(Path(tmp) / "ndgrad-run")
        specs = KernelSpecManager(kernel_dirs=[tmp], ensure_native_kernel=False)
        km = KernelManager(kernel_name="ndgrad-run", kernel_spec_manager=specs)
        client = nbclient.NotebookClient(
            notebook,
            km=km,
            timeout=timeout,
            resources={"metadata": {"path": str(path.resolve().parent)}},
        )
        if verbose:
            import ndgrad

            print(f"torch -> ndgrad {ndgrad.__version__} (kernel: python -m ndgrad.kernel)",
                  file=sys.stderr)  # fmt: skip
        failure = None
        try:  # the kernel's own warnings (TCP without encryption, ...) only with --verbose
            client.execute(**({} if verbose else {"stderr": subprocess.DEVNULL}))
        except nbclient.exceptions.CellExecutionError as exc:
            failure = exc
        finally:
            nbformat.write(notebook, str(output))
    if failure is not None:
        cell = next(
            (i for i, c in enumerate(notebook.cells, 1)
             for o in c.get("outputs", []) if o.get("output_type") == "error"),
            None,
        )  # fmt: skip
        name = getattr(failure, "ename", "Error")
        value = " ".join(str(getattr(failure, "evalue", "")).split())
        print(f"{path}: cell {cell} failed: {name}: {value} (executed copy: {output})",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"executed {path} -> {output}")
    return 0


def run(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="A Python script (.py) or a notebook (.ipynb)."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Say which torch is active: torch -> ndgrad X.Y."
    ),
    output: Path = typer.Option(
        None,
        "--out",
        "-o",
        "--output",
        help="Notebooks: where to write the executed copy (default NAME.ndgrad.ipynb beside it).",
    ),  # fmt: skip
    timeout: int = typer.Option(600, "--timeout", help="Notebooks: seconds allowed per cell."),
    nproc_per_node: str = typer.Option(
        None,
        "--nproc-per-node",
        "--nproc_per_node",
        help="Start N ranks of the script on this machine (torchrun's flag; 'auto': one per "
        "core), through MPI's mpiexec, each with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_* set.",
    ),
    nnodes: int = typer.Option(
        1, "--nnodes", help="Machines in the job; run the same command on each (--node-rank)."
    ),
    node_rank: int = typer.Option(0, "--node-rank", "--node_rank", help="This machine's rank."),
    master_addr: str = typer.Option(
        None, "--master-addr", "--master_addr", help="Node 0's address (several machines)."
    ),
    master_port: int = typer.Option(
        None,
        "--master-port",
        "--master_port",
        help="Node 0's rendezvous port (default 29500; one machine: a free port).",
    ),
    hostfile: str = typer.Option(
        None,
        "--hostfile",
        help="Start every rank from here on the hosts listed (host[:slots] "
        "per line), over ssh, --nproc-per-node on each.",
    ),
) -> None:
    """Run a PyTorch script or notebook unchanged: `import torch` is ndgrad.

    `ndgrad run script.py ARGS...` runs the script as __main__, its sys.argv being the script
    and ARGS (everything after the script goes to it; options for ndgrad come before it).

    `ndgrad run notebook.ipynb` executes every cell in a kernel with the alias
    (python -m ndgrad.kernel) and writes the executed copy. `import torchvision` is
    ndgrad.vision.

    `ndgrad run --nproc-per-node N script.py` starts N ranks of the script, as torchrun
    does, through the MPI wheel's mpiexec (pip install 'ndgrad[distributed]'); the script
    calls torch.distributed.init_process_group() and wraps its model in
    DistributedDataParallel. A failed rank ends the job.
    """
    file = Path(path)
    if not file.exists():
        raise _usage(f"no such file: {path}")
    if not file.is_file():
        raise _usage(f"not a file: {path}")
    if file.suffix == ".ipynb":
        if nproc_per_node is not None:
            raise _usage("--nproc-per-node runs a script, not a notebook")
        if ctx.args:
            raise _usage(
                f"a notebook takes no arguments (got {' '.join(ctx.args)}); "
                "options go before the notebook: ndgrad run [OPTIONS] NOTEBOOK"
            )
        raise typer.Exit(run_notebook(file, output, verbose, timeout))
    if file.suffix not in (".py", ".pyw", ""):
        raise _usage(f"{path} is neither a Python script (.py) nor a notebook (.ipynb)")
    several = nnodes != 1 or node_rank or master_addr or master_port is not None or hostfile
    if nproc_per_node is None and several:
        raise _usage("--nnodes, --node-rank, --master-addr, --master-port and --hostfile "
                     "need --nproc-per-node")  # fmt: skip
    if nproc_per_node is not None:
        from ndgrad.distributed.run import LaunchError, launch, parse_nproc

        try:
            raise typer.Exit(
                launch(
                    path,
                    list(ctx.args),
                    parse_nproc(nproc_per_node),
                    nnodes=nnodes,
                    node_rank=node_rank,
                    master_addr=master_addr,
                    master_port=master_port,
                    hostfile=hostfile,
                )  # fmt: skip
            )
        except LaunchError as exc:
            raise _usage(str(exc)) from None
    raise typer.Exit(run_script(file, list(ctx.args), verbose))


def register(app: typer.Typer) -> None:
    app.command(
        "run",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                          "allow_interspersed_args": False},
    )(run)  # fmt: skip
