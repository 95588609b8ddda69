#!/usr/bin/env bash
# Packs what an NVIDIA machine without registry access needs to run the
# WebGPU benchmarks (../shared/notes/platform.md, "Running Deno WebGPU on an
# NVIDIA Linux machine"): the Deno binary, the Vulkan loader and GL dispatch
# libraries as Debian packages, and benches/gpu_main.ts bundled into one file
# with the PyTorch script beside it. Everything goes to .gpu/ (git-ignored
# through .git/info/exclude).
#
# Then, on the GPU machine, from the repository root:
#   for f in .gpu/*.deb; do dpkg -x "$f" /; done; ldconfig
#   export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=/tmp
#   xz -dc .gpu/deno.xz > /tmp/deno; chmod +x /tmp/deno
#   DENO_DIR=/tmp/dd /tmp/deno run -A --no-remote --no-npm --no-config .gpu/app.js [--quick]
# which writes $OUT/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu
grep -qx '.gpu/' .git/info/exclude 2>/dev/null || echo '.gpu/' >> .git/info/exclude
deno_bin=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')
[ -f .gpu/deno.xz ] || xz -9 -c "$deno_bin" > .gpu/deno.xz
if ! ls .gpu/libvulkan1_*.deb >/dev/null 2>&1; then
  lists=$(mktemp -d)
  mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${o[@]}" update >/dev/null
  (cd .gpu && apt-get "${o[@]}" download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2)
fi
npx -y deno@2.9.6 bundle --platform deno -o .gpu/app.js benches/gpu_main.ts
cp benches/torch_steps.py .gpu/
ls -la .gpu
