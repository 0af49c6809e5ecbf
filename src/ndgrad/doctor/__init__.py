"""The environment doctor: `ndgrad doctor` checks a deep-learning set-up and prints fixes;
`ndgrad doctor explain` turns an error message (or a collect_env report) into cause and cure.

Layout: rules.py (data tables, a source on every row), catalog.py (the error messages
``explain`` knows, each with its public source), parsers.py (tool output -> facts),
probes.py (gather facts, each with a timeout, slow or crash-prone ones in subprocesses run in
a thread pool), checks.py (facts + rules -> findings), explain.py (error messages),
render.py (table / JSON), cli.py (Typer app).

Judgement calls, so they are not re-argued in review:
- No NVIDIA GPU is "ok" (a normal state). nvcc on PATH without a driver is "ok" too: a build
  machine compiles CUDA code without a GPU.
- A CPU-only torch on a GPU machine is "warn" (it works, on CPU); a CUDA torch the driver
  cannot run, or cuda.is_available() False with a fitting driver, is "fail".
- torch wheels bundle their CUDA runtime and rely on minor-version compatibility, so a driver
  at or above the major's floor (e.g. 525.60.13 for 12.x) is enough for them; a toolkit (nvcc)
  below its full-feature minimum is "warn" (no PTX JIT).
- What the doctor recommends installing is the torch ndgrad is tested against (the pin in
  pyproject's dev extra, read from the package metadata), with the highest CUDA build the driver
  runs with its *full* feature set (Table 3), else the CPU wheel: advice after "driver too old"
  must surely run, so driver 470 gets CPU (and the driver to install), not cu118 through
  minor-version compatibility. Judging an installed torch still accepts minor-version
  compatibility (above).
- Items that are ok carry no fix; "How to fix" lists only warn/fail/skipped ones.
- ``explain``: when entries match the same line, the most specific (rank, then longest match)
  wins and the others are listed as "see also"; failures on different lines are all reported.
- The self-test reports "skipped" while ndgrad's tensor core lacks the API (ImportError,
  AttributeError, NotImplementedError), "fail" on any other error or a wrong gradient.
- NDGRAD_DOCTOR_NO_NVML=1 makes the GPU probe use nvidia-smi even where pynvml is installed
  (the end-to-end tests fake nvidia-smi).
"""
