#!/bin/sh
# Run the doctor on a real GPU machine (not part of pytest). Usage: sh tests/doctor/device_smoke.sh OUTDIR
# Works without the venv: falls back to a shim holding only ndgrad.doctor (stdlib only).
OUT="${1:-/tmp/doctor-smoke}"; mkdir -p "$OUT"
{
  nvidia-smi | head -12; nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader,nounits
  nvidia-smi -q | grep -E "Driver Version|CUDA Version|Product Name"
  nvidia-smi -L; command -v nvcc && nvcc --version
  PY=$(command -v python3 || command -v python); echo "python: $PY"; "$PY" -VV
  "$PY" -c "import torch; print('torch', torch.__version__, torch.version.cuda)" 2>&1 | tail -1
  "$PY" -c "import pynvml; print('pynvml present')" 2>&1 | tail -1
} > "$OUT/tools.txt" 2>&1
PY=$(command -v python3 || command -v python)
if PYTHONPATH=src "$PY" -c "import ndgrad.doctor.checks" 2>/dev/null; then
  SRC=src
else
  SRC=$(mktemp -d); mkdir -p "$SRC/ndgrad"; cp -r src/ndgrad/doctor "$SRC/ndgrad/"; touch "$SRC/ndgrad/__init__.py"
fi
RUN='import sys, time; from ndgrad.doctor import checks, probes, render
t = time.perf_counter(); f = checks.run_checks(probes.gather())
print(render.findings_json(f, time.perf_counter() - t))'
PYTHONPATH=$SRC timeout 120 "$PY" -c "$RUN" > "$OUT/doctor.json" 2> "$OUT/doctor.err"; echo "exit $?" >> "$OUT/doctor.err"
NDGRAD_DOCTOR_NO_NVML=1 PYTHONPATH=$SRC timeout 120 "$PY" -c "$RUN" > "$OUT/doctor_smi.json" 2>> "$OUT/doctor.err"
PYTHONPATH=$SRC timeout 60 "$PY" -m ndgrad doctor > "$OUT/doctor_table.txt" 2>&1; echo "table exit $?" >> "$OUT/doctor.err"
echo "Torch not compiled with CUDA enabled" | PYTHONPATH=$SRC timeout 60 "$PY" -m ndgrad doctor explain >> "$OUT/doctor_table.txt" 2>&1
cat "$OUT/tools.txt" "$OUT/doctor.err"; grep -E '"(id|status|found)"' "$OUT/doctor.json" | paste - - - | cut -c1-220
