#!/usr/bin/env bash
# Runs on the GPU machine, from the folder that holds the bundle (gpu_bundle.sh
# copies this script there as run.sh): installs the Vulkan loader and GL
# dispatch libraries from the .deb files, unpacks Deno, then runs each section
# of benches/gpu_main.ts under its own time limit, writing into $OUT as it
# goes, so a section that hangs or fails costs only itself. Ends with
# $OUT/RESULTS.md. On lavapipe (no NVIDIA ICD) it uses the system's Vulkan.
#
#   OUT=/tmp/g bash .gpu/run.sh            # full sizes
#   MMJEPA_GPU_TINY=1 OUT=/tmp/g bash .gpu/run.sh   # tiny sizes, e.g. on lavapipe
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$PWD/gpu_out}
export OUT
mkdir -p "$OUT"
log=$OUT/run.log
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$log"; }

# platform.md found the NVIDIA ICD under /usr/local/nvidia; look around too.
icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
  /etc/vulkan/icd.d/nvidia_icd.json 2>/dev/null | head -1)
if [ -n "$icd" ]; then
  for f in "$here"/*.deb; do dpkg -x "$f" / 2>>"$log"; done
  ldconfig
  export VK_DRIVER_FILES=$icd
fi
echo "vulkan ICD: ${icd:-none (system default, e.g. lavapipe)}" >> "$log"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
(nvidia-smi; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv) > "$OUT/nvidia_smi.txt" 2>&1 || rm -f "$OUT/nvidia_smi.txt"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())' >> "$log" 2>&1
deno=/tmp/mmjepa_deno
[ -x "$deno" ] || { xz -dc "$here/deno.xz" > "$deno" && chmod +x "$deno"; }
export DENO_DIR=/tmp/mmjepa_dd
say "setup done"

# section NAME LIMIT_S ARGS...: one Deno process with its own time limit.
section() {
  local name=$1 limit=$2
  shift 2
  say "start $name (limit ${limit}s)"
  timeout -k 5 "$limit" "$deno" run -A --no-remote --no-npm --no-config \
    "$here/app.js" "$@" >> "$OUT/$name.log" 2>&1
  say "end $name: exit $?"
}

if [ "${MMJEPA_GPU_DIAG:-0}" = 1 ]; then
  # Where the wall time of a step goes (gpu_main.ts `diag`), nothing else.
  for m in features volume roi; do section "diag_$m" "${LIM_DIAG:-45}" diag "$m"; done
else
section env "${LIM_ENV:-30}" env
section steps_features "${LIM_FEATURES:-50}" steps features
section steps_volume "${LIM_VOLUME:-60}" steps volume
section steps_roi "${LIM_ROI:-80}" steps roi
for m in ${TORCH_MODES:-features volume roi}; do section "torch_$m" "${LIM_TORCH:-40}" torch "$m"; done
section report 10 report

# MMJEPA_GPU_SKIP_SIM=1: steps and PyTorch only (e.g. a rerun).
if [ "${MMJEPA_GPU_SKIP_SIM:-0}" != 1 ]; then
# The loss curve times nothing, so it shares the GPU with the sim study.
section curve "${LIM_CURVE:-60}" curve &
curve_pid=$!
say "start sim --quick --backend webgpu"
( cd /tmp && timeout -k 5 "${LIM_SIM:-150}" "$deno" run -A --no-remote --no-npm --no-config \
  "$here/main.js" --backend webgpu -o "$OUT/sim" sim --quick --workers 1 ) > "$OUT/sim.log" 2>&1
rc=$?
say "end sim: exit $rc"
{ echo "exit $rc after $(( $(date +%s) - t0 ))s (bundle clock)"; grep -E "^backend:|AUC|internal|wall time|rror" "$OUT/sim.log" | tail -20; } > "$OUT/sim_summary.txt"
[ -f "$OUT/sim/report.md" ] && cp "$OUT/sim/report.md" "$OUT/sim_report.md"
wait "$curve_pid"
section report 10 report
fi
fi
say "all done"
# A device tool may fetch only a few files: everything also goes into one
# archive, and $OUT keeps just it, RESULTS.md and the run log.
tar czf /tmp/mmjepa_gpu_out.tgz -C "$OUT" . && {
  find "$OUT" -mindepth 1 -maxdepth 1 ! -name RESULTS.md ! -name run.log -exec rm -rf {} +
  mv /tmp/mmjepa_gpu_out.tgz "$OUT/all.tgz"
}
