"""``ndgrad doctor`` without NumPy, Typer or rich: the standard library only.

The doctor exists to diagnose broken set-ups, so it must start when NumPy, rich or Typer are
broken. ``ndgrad/__init__.py`` hands ``ndgrad doctor ...`` to :func:`main` before it imports
anything else (see :func:`doctor_argv`); the Typer sub-app in ``cli.py`` calls the same
:func:`run_doctor` and :func:`run_explain`. Output goes through ``render``, which falls back
to plain text when rich does not import; a broken package becomes a finding, not a crash.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import NoReturn

_COMMAND_NAMES = ("ndgrad", "ndgrad.exe", "ndgrad-script.py")
MAX_MESSAGE_BYTES = 1 << 20  # of a log for `explain`: its last MiB (errors are at the end)


class UsageError(Exception):
    """Bad input: one line on stderr, exit code 2."""


def doctor_argv() -> list[str] | None:
    """The doctor's arguments when this process is ``ndgrad doctor ...`` (console script or
    ``python -m ndgrad``), else None (``import ndgrad`` in a program, tests, other commands)."""
    argv = sys.argv
    if len(argv) < 2 or argv[1] != "doctor":
        return None
    if os.path.basename(argv[0]) in _COMMAND_NAMES:
        return argv[2:]
    if argv[0] == "-m":  # `python -m ndgrad`: runpy is importing the package
        orig = list(getattr(sys, "orig_argv", []))
        for i in range(len(orig) - 1):
            if orig[i] == "-m" and orig[i + 1] == "ndgrad":
                return argv[2:]
    return None


def check_timeout(value: float | None) -> float | None:
    from ndgrad.doctor.probes import MAX_TIMEOUT

    if value is None:
        return None
    if not math.isfinite(value) or not 0.1 <= value <= MAX_TIMEOUT:
        raise UsageError(
            f"--timeout must be a number of seconds from 0.1 to {MAX_TIMEOUT:g}, got {value}"
        )
    return value


def run_doctor(as_json: bool, timeout: float | None) -> int:
    from ndgrad.doctor import checks, probes, render

    timeout = check_timeout(timeout)
    start = time.perf_counter()
    findings = checks.run_checks(probes.gather(timeout))
    seconds = time.perf_counter() - start
    if as_json:
        sys.stdout.write(render.findings_json(findings, seconds) + "\n")
    else:
        render.print_findings(findings, seconds)
    return render.exit_code(findings)


def read_message(message: str | None, file: str | None) -> str:
    """The text to explain: an argument, a regular file (its last MiB) or stdin (bounded)."""
    import stat

    if file is not None:
        try:
            st = os.stat(file)
            if not stat.S_ISREG(st.st_mode):
                raise UsageError(
                    f"cannot read {file}: not a regular file (pipe it in instead: "
                    f"ndgrad doctor explain - < {file})"
                )
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            fd = os.open(file, flags)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise UsageError(f"cannot read {file}: not a regular file")
                size = os.fstat(fd).st_size
                if size > MAX_MESSAGE_BYTES:
                    os.lseek(fd, size - MAX_MESSAGE_BYTES, os.SEEK_SET)
                data = _read_at_most(fd, MAX_MESSAGE_BYTES)
            finally:
                os.close(fd)
        except OSError as error:
            raise UsageError(f"cannot read {file}: {error.strerror or error}") from None
        return data.decode("utf-8", errors="replace")
    if message is not None and message != "-":
        return message
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(NO_MESSAGE)
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream (tests): still bounded
        return sys.stdin.read(MAX_MESSAGE_BYTES)
    return stream.read(MAX_MESSAGE_BYTES).decode("utf-8", errors="replace")


NO_MESSAGE = "no message given (pass it as an argument, with --file LOG, or on stdin)"


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks = []
    total = 0
    while total < limit:
        chunk = os.read(fd, min(65536, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def run_explain(
    message: str | None, file: str | None, as_json: bool, list_all: bool = False
) -> int:
    from ndgrad.doctor import render
    from ndgrad.doctor.explain import catalogue, explain

    if list_all:
        if message is not None or file is not None:
            raise UsageError("--list takes no message")
        rows = catalogue()
        if as_json:
            sys.stdout.write(render.catalogue_json(rows) + "\n")
        else:
            render.print_catalogue(rows)
        return 0
    text = read_message(message, file)
    if not text.strip():
        raise UsageError(NO_MESSAGE)
    diagnoses = explain(text)
    if as_json:
        sys.stdout.write(render.diagnoses_json(diagnoses) + "\n")
    else:
        render.print_diagnoses(diagnoses)
    return 0 if diagnoses[0].known else 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ndgrad doctor",
        description="Diagnose this machine's deep-learning set-up and print the fix for each "
        "problem. Exit code 0 when nothing fails, 1 otherwise.",
    )
    parser.add_argument("--json", action="store_true", help="Print findings as JSON on stdout.")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="Seconds each probe may take (default: 10 for tools, 30 for Python imports).",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    explain = sub.add_parser(
        "explain",
        help="Explain an error message: its cause and the commands that fix it.",
        description="Explain an error message: its cause and the commands that fix it. Exit "
        "code 1 when the message is not recognised.",
    )
    explain.add_argument("message", nargs="?", default=None, help="The message (or - for stdin).")
    explain.add_argument("--file", "-f", default=None, help="Read the message from a log file.")
    explain.add_argument("--json", action="store_true", dest="explain_json")
    explain.add_argument(
        "--list", action="store_true", dest="list_all", help="List every known failure."
    )
    return parser


def main(argv: list[str]) -> int:
    """Runs ``ndgrad doctor`` with ``argv``; returns the exit code. Never raises."""
    import warnings

    warnings.simplefilter("ignore")  # a probe's warning must not break the one-line rule
    try:
        try:
            args = _parser().parse_args(argv)
            if args.command == "explain":
                code = run_explain(
                    args.message, args.file, args.explain_json or args.json, args.list_all
                )
            else:
                code = run_doctor(args.json, args.timeout)
            sys.stdout.flush()
        except UsageError as error:
            print(f"ndgrad doctor: error: {error}", file=sys.stderr)
            return 2
    except (BrokenPipeError, OSError) as error:
        return output_failed(error)
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return 130
    return code


def output_failed(error: OSError) -> int:
    """stdout could not be written (``> /dev/full``, a closed pipe): one line, exit 1.

    stdout is pointed at /dev/null so that the interpreter's final flush fails no more.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    if not isinstance(error, BrokenPipeError):  # a closed pipe is the reader's choice
        try:
            print(
                f"ndgrad: error: cannot write the output: {error.strerror or error}",
                file=sys.stderr,
            )
        except OSError:
            pass
    return 1
