#!/usr/bin/env bash
# Packs what an NVIDIA machine without registry access needs to run the GPU
# measurements of issue 19 (../shared/notes/platform.md, "Running Deno WebGPU
# on an NVIDIA Linux machine") into one folder (default .gpu/, git-ignored):
# the Deno binary, the Vulkan loader and GL dispatch libraries as Debian
# packages, benches/gpu_main.ts bundled as app.js, main.ts bundled as main.js
# (for `sim --quick --backend webgpu`), benches/torch_steps.py, and
# benches/gpu_run.sh as run.sh.
#
#   bash benches/gpu_bundle.sh [DEST]
# Then on the GPU machine, from the folder above DEST:
#   OUT=/some/dir bash DEST/run.sh         # writes $OUT/RESULTS.md and logs
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.gpu}
mkdir -p "$dest"
deno_bin=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')
[ -f "$dest/deno.xz" ] || xz -9 -T2 -c "$deno_bin" > "$dest/deno.xz"
if ! ls "$dest"/libvulkan1_*.deb >/dev/null 2>&1; then
  lists=$(mktemp -d)
  mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${o[@]}" update >/dev/null
  (cd "$dest" && apt-get "${o[@]}" download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2)
fi
npx -y deno@2.9.6 install -q # node_modules is "manual"
npx -y deno@2.9.6 bundle --platform deno -o "$dest/app.js" benches/gpu_main.ts
npx -y deno@2.9.6 bundle --platform deno -o "$dest/main.js" main.ts
cp benches/torch_steps.py "$dest/"
cp benches/gpu_run.sh "$dest/run.sh"
ls -la "$dest"
