"""`ndgrad doctor explain`: recognise known failures in an error message or a log."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ndgrad.doctor import catalog, parsers, rules


@dataclass(frozen=True)
class Diagnosis:
    id: str
    title: str
    cause: str
    fixes: tuple[str, ...]
    source: str
    known: bool = True
    excerpt: str = ""
    details: dict[str, str] = field(default_factory=dict)
    see_also: tuple[str, ...] = ()  # ids of less specific entries that matched the same line

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "known": self.known,
            "title": self.title,
            "cause": self.cause,
            "fixes": list(self.fixes),
            "source": self.source,
            "excerpt": self.excerpt,
            "see_also": list(self.see_also),
        }


UNKNOWN = Diagnosis(
    id="unknown",
    title="not a known failure",
    cause="This message does not match any failure the doctor knows.",
    fixes=("ndgrad doctor   # checks this machine's set-up and prints fixes",),
    source="",
    known=False,
)


def _install_for_cuda(cuda: str) -> str:
    """The pip line for the newest torch whose CUDA build a driver supporting `cuda` runs."""
    limit = rules.parse_version(cuda)
    for release in rules.preferred_releases():
        fitting = [c for c in release.cuda if rules.parse_version(c) <= limit]
        if fitting:
            best = max(fitting, key=rules.parse_version)
            return (
                f'pip install "torch=={release.torch}.*" "torchvision=={release.torchvision}.*" '
                f"--index-url {rules.WHEEL_INDEX}/{rules.cuda_tag(best)}"
            )
    return f"pip install torch torchvision --index-url {rules.WHEEL_INDEX}/cpu"


def _details(known: rules.KnownError, match: re.Match[str], text: str) -> dict[str, str]:
    """Values for the {placeholders} of a row: named groups plus what they decode to."""
    values = {key: value for key, value in match.groupdict().items() if value}
    if known.id == "torch-driver-too-old":
        try:
            values["driver_cuda"] = parsers.decode_cuda_api_version(values["api"])
            values["install"] = _install_for_cuda(values["driver_cuda"])
        except parsers.ParseError:
            # "found version 0": the driver reports no CUDA at all (none loaded, or broken).
            values["driver_cuda"] = "no version (0: no working driver)"
            values["install"] = f"pip install torch torchvision --index-url {rules.WHEEL_INDEX}/cpu"
    if known.id == "torch-no-matching-distribution":
        values["detail"] = _no_wheel_detail(text)
    if known.id == "jupyter-kernel-not-found":
        named = re.search(r"No such kernel(?: named)?:?\s*['\"]?([\w.\-]+)", text, re.I)
        values["kernel"] = (
            values.get("kernel") or values.get("kernel2") or (named and named.group(1)) or "<env>"
        )
    values.setdefault("detail", "")
    for name in match.re.groupindex:  # an optional group the message did not have
        values.setdefault(name, "not shown")
    return values


def _no_wheel_detail(text: str) -> str:
    """Pin the cause when the log says which Python ran pip."""
    if re.search(r"32 bit \(Intel\)|\(32-bit runtime\)|Python\d+-32", text):
        return " Here the log shows a 32-bit Python."
    found = re.search(r"Python (\d)\.(\d+)", text)
    if found:
        version = (int(found.group(1)), int(found.group(2)))
        newest = rules.TORCH_RELEASES[0]
        if not any(r.python_min <= version <= r.python_max for r in rules.TORCH_RELEASES):
            return (
                f" Here the log shows Python {version[0]}.{version[1]}, outside every torch "
                f"release's range (current torch {newest.torch}: "
                f"{newest.python_min[0]}.{newest.python_min[1]}-"
                f"{newest.python_max[0]}.{newest.python_max[1]})."
            )
    return ""


def explain(text: str) -> list[Diagnosis]:
    """Every known failure found in `text`, in the order they appear; [UNKNOWN] if none.

    Entries whose matches share a line compete: the most specific (highest rank, then longest
    match) wins and the others are named in its `see_also`. Failures on different lines (a log
    with several problems) are all reported."""
    hits = []
    for known in catalog.KNOWN_ERRORS:
        match = re.search(known.pattern, text, re.IGNORECASE)
        if match:
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            hits.append((known, match, start, len(text) if end < 0 else end))
    hits.sort(key=lambda h: (h[0].rank, len(h[1].group(0))), reverse=True)
    winners: list[tuple[rules.KnownError, re.Match[str], int, int, list[str]]] = []
    for known, match, start, end in hits:
        rival = next((w for w in winners if start < w[3] and w[2] < end), None)
        if rival is None:
            winners.append((known, match, start, end, []))
        else:
            rival[4].append(known.id)
    found: list[tuple[int, Diagnosis]] = []
    for known, match, _start, _end, see_also in winners:
        values = _details(known, match, text)
        fill = lambda template, v=values: template.format_map(_Blank(v))  # noqa: E731
        found.append(
            (
                match.start(),
                Diagnosis(
                    id=known.id,
                    title=fill(known.title),
                    cause=fill(known.cause),
                    fixes=tuple(fill(f) for f in known.fixes),
                    source=known.source,
                    excerpt=match.group(0)[:200],
                    details={k: v for k, v in values.items() if v},
                    see_also=tuple(see_also),
                ),
            )
        )
    found += [(len(text), diagnosis) for diagnosis in _from_collect_env(text)]
    if not found:
        return [UNKNOWN]
    return [diagnosis for _, diagnosis in sorted(found, key=lambda pair: pair[0])]


def catalogue() -> list[tuple[str, str, str]]:
    """(id, what it matches, source) for every entry: ``ndgrad doctor explain --list``."""
    rows = [(k.id, k.matches or k.pattern, k.source) for k in catalog.KNOWN_ERRORS]
    rows += [
        (v.id, "a pasted `python -m torch.utils.collect_env` report", v.source)
        for v in rules.COLLECT_ENV_VERDICTS.values()
    ]
    return rows


def _from_collect_env(text: str) -> list[Diagnosis]:
    """Verdicts from a pasted collect_env report, which states facts but draws no conclusions."""
    if "CUDA used to build PyTorch" not in text and "(32-bit runtime)" not in text:
        return []
    try:
        fields = parsers.parse_collect_env(text).fields
    except parsers.ParseError:
        return []
    verdicts = []
    gpu = fields.get("nvidia_gpu_models")
    if gpu and "CUDA used to build PyTorch" in text and not fields.get("cuda_compiled_version"):
        verdicts.append(("cpu-wheel-on-gpu", {"gpu": gpu.splitlines()[0]}))
    if parsers.collect_env_bits(fields.get("python_version")) == 32:
        verdicts.append(("32-bit", {}))
    result = []
    for key, values in verdicts:
        row = rules.COLLECT_ENV_VERDICTS[key]
        result.append(
            Diagnosis(
                id=row.id,
                title=row.title,
                cause=row.cause.format_map(_Blank(values)),
                fixes=row.fixes,
                source=row.source,
                excerpt="collect_env report",
            )
        )
    return result


class _Blank(dict):
    """format_map helper: an unknown placeholder stays visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
