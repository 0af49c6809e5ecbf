"""``ndgrad kernel install|list|remove``: a Jupyter kernel in which ``import torch`` is ndgrad.

The kernelspec is written by ipykernel's own writer (its logos, ``kernel.json``) with the argv
``python -m ndgrad.kernel -f {connection_file}`` and installed by jupyter_client's
``KernelSpecManager.install_kernel_spec``, as ``python -m ipykernel install`` does.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import typer

from ndgrad.kernel import DEFAULT_DISPLAY_NAME, DEFAULT_NAME

app = typer.Typer(
    help="A Jupyter kernel running PyTorch notebooks unchanged on ndgrad (import torch -> ndgrad).",
    no_args_is_help=True,
)

_EXTRA = "pip install 'ndgrad[notebooks]'  (ipykernel, jupyter_client)"


def _fail(command: str, message: str) -> typer.Exit:
    typer.echo(f"ndgrad kernel {command}: error: {message}", err=True)
    return typer.Exit(2)


def _manager(command: str, prefix: Path | None = None):
    try:
        import ipykernel  # noqa: F401 - the kernel itself runs ipykernel
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError as exc:
        raise _fail(command, f"the Jupyter kernel needs {exc.name}: {_EXTRA}") from None
    manager = KernelSpecManager()
    if prefix is not None:  # look in PREFIX/share/jupyter/kernels first
        manager.kernel_dirs.insert(0, str(prefix.resolve() / "share" / "jupyter" / "kernels"))
    return manager


@app.command("install")
def install(
    name: str = typer.Option(DEFAULT_NAME, "--name", help="The kernelspec's name."),
    display_name: str = typer.Option(
        DEFAULT_DISPLAY_NAME, "--display-name", help="The name Jupyter shows."
    ),
    user: bool = typer.Option(False, "--user", help="Install for this user (the default)."),
    sys_prefix: bool = typer.Option(
        False, "--sys-prefix", help="Install into this environment (sys.prefix)."
    ),
    prefix: Path = typer.Option(None, "--prefix", help="Install into PREFIX/share/jupyter."),
) -> None:
    """Register the kernel: Jupyter then offers it, and `import torch` in it is ndgrad."""
    from ndgrad.kernel import write_kernel_spec

    if sum([user, sys_prefix, prefix is not None]) > 1:
        raise _fail("install", "choose one of --user, --sys-prefix, --prefix")
    if not name or any(c in name for c in "/\\ ") or name != name.strip():
        raise _fail("install", f"invalid kernel name {name!r} (letters, digits, - _ .)")
    manager = _manager("install")
    where = str(prefix.resolve()) if prefix is not None else (sys.prefix if sys_prefix else None)
    with tempfile.TemporaryDirectory(prefix="ndgrad-kernelspec-") as tmp:
        spec_dir = write_kernel_spec(Path(tmp) / name, display_name)
        try:
            dest = manager.install_kernel_spec(
                str(spec_dir), name, user=where is None, prefix=where
            )
        except (OSError, ValueError) as exc:
            raise _fail("install", f"cannot install the kernelspec: {exc}") from None
    typer.echo(f"installed kernelspec {name} ({display_name}) in {dest}")


@app.command("list")
def list_kernels(
    prefix: Path = typer.Option(None, "--prefix", help="Also look in PREFIX/share/jupyter."),
    all_kernels: bool = typer.Option(
        False, "--all", help="List every kernelspec, not only ndgrad's."
    ),
) -> None:
    """List the installed kernelspecs that start ndgrad's kernel (NAME, display name, folder)."""
    from ndgrad.kernel import is_ndgrad_kernel

    manager = _manager("list", prefix)
    rows = []
    for name, entry in sorted(manager.get_all_specs().items()):
        spec = entry.get("spec", {})
        if all_kernels or is_ndgrad_kernel(spec):
            mark = " [ndgrad]" if all_kernels and is_ndgrad_kernel(spec) else ""
            rows.append(f"{name}\t{spec.get('display_name', '')}{mark}\t{entry['resource_dir']}")
    if not rows:
        typer.echo("no ndgrad kernel installed (ndgrad kernel install)")
    for row in rows:
        typer.echo(row)


@app.command("remove")
def remove(
    name: str = typer.Argument(..., help="The kernelspec to remove."),
    prefix: Path = typer.Option(None, "--prefix", help="Also look in PREFIX/share/jupyter."),
) -> None:
    """Remove an installed kernelspec of ndgrad's kernel."""
    from ndgrad.kernel import is_ndgrad_kernel

    manager = _manager("remove", prefix)
    specs = manager.get_all_specs()
    if name not in specs:
        raise _fail("remove", f"no kernelspec named {name!r}")
    if not is_ndgrad_kernel(specs[name].get("spec", {})):
        raise _fail(
            "remove",
            f"{name!r} is not an ndgrad kernel; remove it with: jupyter kernelspec remove {name}",
        )
    try:
        path = manager.remove_kernel_spec(name)
    except OSError as exc:
        raise _fail("remove", f"cannot remove {name}: {exc}") from None
    typer.echo(f"removed kernelspec {name} ({path})")
