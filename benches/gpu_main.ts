/**
 * Entry point for a GPU machine that has no registry access: bundled with
 * benches/gpu_bundle.sh into `.gpu/app.js`, it runs the WebGPU benchmarks
 * (per-kernel timing, stock vs mmjepa kernels, and each training step
 * against PyTorch fp32 on the same GPU when `python3` has CUDA torch) and
 * writes `RESULTS.md` into `$OUT` (or the current folder).
 *
 * Usage on the GPU machine: see benches/gpu_bundle.sh.
 *
 * @module
 */
import { runBenches } from "./run.ts";

if (import.meta.main) {
  // The CPU backends would only spend the GPU machine's time.
  Deno.env.set("MMJEPA_BENCH_BACKENDS", "webgpu");
  const out = `${Deno.env.get("OUT") ?? "."}/RESULTS.md`;
  await runBenches({
    quick: Deno.args.includes("--quick"),
    only: ["models", "webgpu"],
    out,
  });
}
