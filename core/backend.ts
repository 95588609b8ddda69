/**
 * The backend vocabulary shared by the command line, the results files and
 * the study runner: the names a user may choose and what was chosen. No
 * TensorFlow.js here; activating a backend is kernels/backend.ts's job.
 *
 * @module
 */

/**
 * The backends mmjepa can run on.
 *
 * @example
 * ```ts
 * BACKENDS.includes("wasm"); // true
 * ```
 */
export const BACKENDS = ["auto", "webgpu", "wasm", "cpu"] as const;
/** A backend name, or `auto`. */
export type BackendChoice = typeof BACKENDS[number];

/** What `initBackend` chose, for printing and for the results file. */
export interface BackendInfo {
  /** The active tfjs backend. */
  name: "webgpu" | "wasm" | "cpu";
  /** Adapter description for webgpu, "simd" for wasm, "js" for cpu. */
  detail: string;
  /** Why this backend was chosen. */
  reason: string;
}
