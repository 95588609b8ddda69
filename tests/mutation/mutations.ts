/**
 * The mutation list of {@link ../mutation/run.ts}: one-line behaviour
 * changes a user would care about, each with the test files that should
 * notice it. Add entries with every new learning component.
 *
 * @module
 */

/** One mutation. */
export interface Mutation {
  /** Short unique id, "folder/what". */
  id: string;
  /** File, relative to the repository root. */
  file: string;
  /** Exact text to replace (the `nth` occurrence, default the first). */
  search: string;
  /** Replacement text. */
  replace: string;
  /** Which occurrence of `search` (0-based). */
  nth?: number;
  /** What the mutation means for a study. */
  what: string;
  /** Covering test files, relative to the repository root. */
  tests: string[];
}

const JEPA = "tests/models/jepa_objective_test.ts";
const ATT = "tests/kernels/wasm/attention_test.ts";
const NCE = "tests/kernels/wasm/infonce_relu_test.ts";
const CON = "tests/models/contrastive_objective_test.ts";
const WIRING = "tests/models/wiring_test.ts";
const LEAK = "tests/models/leakage_test.ts";
const MASKS = "tests/models/masks_test.ts";
const KA = "tests/models/known_answer_test.ts";
const PROBE = "tests/models/probe_test.ts";
const SHIFT = "tests/sim/external_shift_test.ts";
const GEN = "tests/sim/generate_test.ts";
const SWEEP = "tests/study/sweep_wiring_test.ts";
const PLAN = "tests/study/plan_test.ts";
const SHARD = "tests/study/shard_test.ts";
const BOOT = [
  "tests/reports/bootstrap_test.ts",
  "tests/reports/bootstrap_strata_test.ts",
];
const AUC = "tests/reports/auc_test.ts";
const NIFTI = ["tests/real/nifti_test.ts", "tests/real/nifti_qfac_test.ts"];
const RENDER = "tests/sim/rendering_test.ts";
const LEVELS = "tests/sim/two_levels_test.ts";
const LRVOL = "tests/models/logreg_volume_test.ts";
const BAYES = "tests/sim/bayes_test.ts";
const AUG = "tests/models/augment_test.ts";
const VKA = "tests/models/volume_known_answer_test.ts";
const PLATEAU = "tests/models/plateau_test.ts";
const BATCH = "tests/models/batch_test.ts";
const STEM = "tests/models/stem_test.ts";
const MEM = "tests/study/memory_test.ts";
const RUN = "tests/study/run_test.ts";
const SBENCH = "tests/benches/study_bench_test.ts";
const RAD = "tests/models/radiomics_pretext_test.ts";
const TIME = "tests/models/time_code_test.ts";
const LN = "tests/models/layer_norm_test.ts";
const SUM = "tests/kernels/wasm/sum_test.ts";
const HOSTMASK = "tests/models/contrastive_host_masks_test.ts";

/**
 * Every mutation.
 *
 * @example
 * ```ts
 * MUTATIONS.filter((m) => m.file.startsWith("models/")).length;
 * ```
 */
export const MUTATIONS: Mutation[] = [
  {
    id: "models/plateau-min-delta-ignored",
    file: "models/train.ts",
    search: ": meta.best - (cfg.minDelta ?? 0) * Math.abs(meta.best);",
    replace: ": meta.best;",
    what: "pretraining never sees a plateau while the loss creeps down",
    tests: ["tests/models/plateau_test.ts"],
  },
  {
    id: "models/plateau-restores-best",
    file: "models/train.ts",
    search: "if (cfg.restoreBest !== false) {",
    replace: "if (true) {",
    what:
      "pretraining rolls back to an earlier snapshot against a moving EMA target",
    tests: ["tests/models/plateau_test.ts"],
  },
  // ---- issue 12: pretraining that learns, probes, baselines, label budgets
  {
    id: "models/cross-modal-share-ignored",
    file: "models/masks.ts",
    search: "if (cross.length > 0 && rng.uniform() < policy.crossModalShare) {",
    replace: "if (cross.length > 0 && rng.uniform() < 0) {",
    what: "features-mode JEPA predicts EHR from EHR only",
    tests: [MASKS, KA],
  },
  {
    id: "models/predictor-output-zeroed",
    file: "models/jepa.ts",
    search: "return jepaRegression(predicted, wanted, hidden, loss);",
    replace: "return jepaRegression(predicted.mul(0), wanted, hidden, loss);",
    what: "the predictor's output never reaches the loss",
    tests: [KA],
  },
  {
    id: "models/momentum-zero",
    file: "models/jepa.ts",
    search:
      "return start + (end - start) * Math.min(1, step / Math.max(1, total - 1));",
    replace: "return 0;",
    what: "the EMA target is a copy of the context encoder",
    tests: [KA],
  },
  {
    id: "models/probe-no-ridge-gradient",
    file: "models/probe.ts",
    search: "g[a] -= pen * beta[a];",
    replace: "g[a] -= 0;",
    what: "the logistic probe's Newton step ignores the ridge in the gradient",
    tests: [PROBE],
  },
  {
    id: "models/probe-intercept-dropped",
    file: "models/probe.ts",
    search:
      "return { mean, std, w: beta.slice(0, dim), b: beta[dim], iterations: it + 1 };",
    replace:
      "return { mean, std, w: beta.slice(0, dim), b: 0, iterations: it + 1 };",
    what: "the probe forgets its intercept",
    tests: [PROBE],
  },
  {
    id: "models/val-labels-outside-budget",
    file: "models/experiment.ts",
    search: 'val: stratifiedFraction(labeledIn(cohort, "val"), fraction, rng),',
    replace: 'val: labeledIn(cohort, "val"),',
    what: "labelFraction 0.1 silently keeps every validation label",
    tests: [PROBE],
  },
  {
    id: "models/random-init-other-stream",
    file: "models/experiment.ts",
    search: '        streams.get("init/enc"),\n        false,',
    replace: '        streams.get("init/other"),\n        false,',
    what: "the random-init row is not the encoder the methods start from",
    tests: [PROBE],
  },
  {
    id: "models/baseline-ignores-image",
    file: "models/methods.ts",
    search: '"logreg-image": {\n    uses: IMAGE,',
    replace: '"logreg-image": {\n    uses: EHR,',
    what: "logreg-image reads no image, logreg-ehr reads both",
    tests: [PROBE],
  },
  {
    id: "sim/growth-follows-label",
    file: "sim/generate.ts",
    search: "const vdt = VDT_BENIGN * (VDT_MALIGNANT / VDT_BENIGN) ** p *",
    replace: "const vdt = (malignant ? VDT_MALIGNANT : VDT_BENIGN) *",
    what: "nodule growth leaks the realised label",
    tests: [GEN],
  },
  // ---- models/jepa.ts: the JEPA objective
  {
    id: "models/jepa-no-target-layernorm",
    file: "models/jepa.ts",
    search:
      "const t = layerNorm(enc.forward(target, x, x.present), null, null);",
    replace: "const t = enc.forward(target, x, x.present);",
    what: "targets not layer-normalised",
    tests: [JEPA],
  },
  {
    id: "models/jepa-target-sees-context-only",
    file: "models/jepa.ts",
    search: "enc.forward(target, x, x.present)",
    replace: "enc.forward(target, x, context)",
    what: "the target encoder sees only the context",
    tests: [JEPA],
  },
  {
    id: "models/jepa-loss-on-context",
    file: "models/jepa.ts",
    search: "return jepaRegression(predicted, wanted, hidden, loss);",
    replace: "return jepaRegression(predicted, wanted, context, loss);",
    what: "loss taken on context instead of hidden tokens",
    tests: [JEPA],
  },
  {
    id: "models/jepa-no-mask-token",
    file: "models/jepa.ts",
    search: '.add(hidCol.mul(pred["pred/mask"]))',
    replace: "",
    what: "mask tokens never reach the predictor",
    tests: [JEPA],
  },
  {
    id: "models/jepa-context-sees-hidden",
    file: "models/jepa.ts",
    search: "const ctxOut = enc.forwardRows(online, x, context, false, emb);",
    replace:
      "const ctxOut = enc.forwardRows(online, x, x.present, false, emb);",
    what: "the context encoder sees the hidden tokens",
    tests: [JEPA],
  },
  {
    id: "models/jepa-predictor-output-zeroed",
    file: "models/jepa.ts",
    search: '"pred/out",\n  ).reshape([n, N, m.width]);',
    replace: '"pred/out",\n  ).reshape([n, N, m.width]).mul(0);',
    what: "predictor output zeroed (nothing is learned)",
    tests: [JEPA],
  },
  {
    id: "models/jepa-ema-never-updates",
    file: "models/experiment.ts",
    search: "      if (target) {\n        emaUpdateFrom(",
    replace: "      if (false && target) {\n        emaUpdateFrom(",
    what: "the target encoder never updates",
    tests: [JEPA],
  },
  {
    id: "models/jepa-ema-momentum-zero",
    file: "models/jepa.ts",
    search:
      "return start + (end - start) * Math.min(1, step / Math.max(1, total - 1));",
    replace: "return 0;",
    what: "EMA momentum 0: the target is a copy of the context encoder",
    tests: [JEPA],
  },
  {
    id: "models/jepa-ema-formula-swapped",
    file: "models/jepa.ts",
    search:
      "target.assign(target.mul(momentum).add(online.mul(1 - momentum)));",
    replace:
      "target.assign(online.mul(momentum).add(target.mul(1 - momentum)));",
    what: "EMA weights swapped",
    tests: [JEPA, "tests/models/ema_test.ts"],
  },
  // ---- models/contrastive.ts
  {
    id: "models/contrastive-positives-shifted",
    file: "models/contrastive.ts",
    search: "const eye = tf.eye(n);",
    replace:
      "const eye = tf.concat([tf.eye(n).slice([0, 1]), tf.eye(n).slice([0, 0], [-1, 1])], 1);",
    what: "positives shifted by one patient",
    tests: [CON],
  },
  {
    id: "models/contrastive-one-direction",
    file: "models/contrastive.ts",
    search: "const perPatient = i2e.add(e2i)",
    replace: "const perPatient = i2e.add(i2e)",
    what: "only the image-to-EHR direction",
    tests: [CON],
  },
  {
    id: "models/contrastive-no-scale-cap",
    file: "models/contrastive.ts",
    search: "const scale = tf.minimum(logScale, Math.log(100)).exp();",
    replace: "const scale = logScale.exp();",
    what: "logit scale not capped at 100",
    tests: [CON],
  },
  {
    id: "models/contrastive-invalid-negatives",
    file: "models/contrastive.ts",
    search: "const colBias = tf.scalar(1).sub(valid).mul(-1e9)",
    replace: "const colBias = tf.scalar(1).sub(valid).mul(0)",
    what: "patients missing a modality still serve as negatives",
    tests: [CON],
  },
  {
    id: "models/contrastive-not-normalised",
    file: "models/contrastive.ts",
    search: "return infoNce(unit(xi), unit(xe), logScale, valid);",
    replace: "return infoNce(xi, unit(xe), logScale, valid);",
    what: "image embeddings not unit-normalised (dot product, not cosine)",
    tests: [CON],
  },
  // ---- models/train.ts and models/optim.ts
  {
    id: "models/early-stopping-keeps-last",
    file: "models/train.ts",
    search: "if (meta.done && best) {",
    replace: "if (false && best) {",
    what: "early stopping keeps the last instead of the best weights",
    tests: [WIRING, "tests/models/train_test.ts"],
  },
  {
    id: "models/early-stopping-worst",
    file: "models/train.ts",
    search: "if (val < bar) {",
    replace: "if (meta.best === null || val > meta.best) {",
    what: "early stopping tracks the worst validation loss",
    tests: [WIRING, "tests/models/train_test.ts"],
  },
  {
    id: "models/early-stopping-no-patience",
    file: "models/train.ts",
    search: "++meta.bad >= (cfg.patience ?? Infinity)",
    replace: "++meta.bad >= Infinity",
    what: "patience ignored: never stops early",
    tests: [WIRING, "tests/models/train_test.ts"],
  },
  {
    id: "models/train-clip-not-passed",
    file: "models/train.ts",
    search: "clipNorm: cfg.clipNorm,",
    replace: "clipNorm: 0,",
    what: "the loop drops the clip norm",
    tests: [WIRING, "tests/models/train_test.ts"],
  },
  {
    id: "models/optim-clip-removed",
    file: "models/optim.ts",
    search: "if (clipNorm > 0) {",
    replace: "if (false) {",
    what: "gradient clipping removed",
    tests: [WIRING, "tests/models/ema_test.ts"],
  },
  // ---- models/experiment.ts: finetuning and data wiring
  {
    id: "models/finetune-from-random",
    file: "models/experiment.ts",
    search: "const encP = pre\n",
    replace: "const encP = false\n",
    what: "finetuning starts from random instead of pretrained weights",
    tests: [WIRING],
  },
  {
    id: "models/probe-updates-encoder",
    file: "models/experiment.ts",
    search: "    if (linear) {",
    replace: "    if (false) {",
    what: "the linear probe updates the encoder",
    tests: [WIRING],
  },
  {
    id: "models/label-fraction-ignored",
    file: "models/experiment.ts",
    search: "if (fraction >= 1) return patients;",
    replace: "return patients;",
    what: "labelFraction ignored",
    tests: [WIRING],
  },
  {
    id: "models/label-fraction-unstratified",
    file: "models/experiment.ts",
    search: "const group = patients.filter((p) => p.label === cls);",
    replace: "const group = cls === 0 ? patients : [];",
    what: "labelFraction keeps a share of all patients, not of each class",
    tests: [WIRING],
  },
  {
    id: "models/leak-test-into-pool",
    file: "models/experiment.ts",
    search:
      'const pool = patientsIn(set.internal, ["pretrain", "train", "val"]);',
    replace:
      'const pool = patientsIn(set.internal, ["pretrain", "train", "val", "test"]);',
    what:
      "internal test patients enter the normaliser and the pretraining pool",
    tests: [LEAK],
  },
  {
    id: "models/leak-test-into-normaliser",
    file: "models/experiment.ts",
    search: "norm: fitNormalizer(pool, layout)",
    replace: "norm: fitNormalizer(set.internal.patients, layout)",
    what: "internal test patients enter the normaliser fit",
    tests: [LEAK],
  },
  {
    id: "models/validate-on-test",
    file: "models/experiment.ts",
    search: "const trainSet = budget.train, valSet = budget.val;",
    replace:
      'const trainSet = budget.train, valSet = labeledIn(set.internal, "test");',
    what: "early stopping on the internal test split",
    tests: [LEAK],
  },
  {
    id: "models/seed-ignored-pretrain",
    file: "models/experiment.ts",
    search: "const streams = new RngStreams(seed);",
    replace: "const streams = new RngStreams(1);",
    nth: 0,
    what: "pretraining seeds all equal",
    tests: [WIRING],
  },
  {
    id: "models/seed-ignored-finetune",
    file: "models/experiment.ts",
    search: "const streams = new RngStreams(seed);",
    replace: "const streams = new RngStreams(1);",
    nth: 1,
    what: "finetuning seeds all equal",
    tests: [WIRING],
  },
  {
    id: "models/downstream-always-target",
    file: "models/experiment.ts",
    search: 'if (target && pc.downstream === "target") {',
    replace: "if (target) {",
    what: "the EMA target is handed downstream whatever the config says",
    tests: [JEPA],
  },
  // ---- models/masks.ts
  {
    id: "models/masks-context-overlaps-target",
    file: "models/masks.ts",
    search: "context = all.filter((t) => !hidden.has(t));",
    replace: "context = all;",
    what: "block mask: hidden tokens stay in the context",
    tests: [MASKS],
  },
  {
    id: "models/masks-time-sees-latest",
    file: "models/masks.ts",
    search: "L.slot[t] < lastScan",
    replace: "L.slot[t] <= lastScan",
    what: "time mask: the latest scan stays in the context",
    tests: [MASKS],
  },
  // ---- sim/generate.ts
  {
    id: "sim/internal-gets-external-covariate",
    file: "sim/generate.ts",
    search: "covariate: { mean: 0, scale: 1 },",
    replace:
      "covariate: s.externals[0]?.shift.covariate ?? { mean: 0, scale: 1 },",
    what: "external covariate shift applied to the internal cohort",
    tests: [SHIFT, GEN],
  },
  {
    id: "sim/internal-gets-external-rho",
    file: "sim/generate.ts",
    search: "    rho: s.crossModalCorrelation,",
    replace:
      "    rho: s.externals[0]?.shift.crossModalCorrelation ?? s.crossModalCorrelation,",
    what: "external cross-modal correlation applied internally",
    tests: [SHIFT, GEN],
  },
  {
    id: "sim/internal-gets-external-prevalence",
    file: "sim/generate.ts",
    search: "    prevalence: s.label.prevalence,",
    replace:
      "    prevalence: s.externals[0]?.shift.prevalence ?? s.label.prevalence,",
    what: "external prevalence applied internally",
    tests: [SHIFT, GEN],
  },
  {
    id: "sim/internal-gets-external-concept",
    file: "sim/generate.ts",
    search: "habitK: s.ehr.codingHabit,",
    replace:
      "habitK: s.ehr.codingHabit * (1 - (s.externals[0]?.shift.concept ?? 0)),",
    what: "external concept shift applied internally",
    tests: [SHIFT, GEN],
  },
  {
    id: "sim/external-covariate-ignored",
    file: "sim/generate.ts",
    search: "covariate: e.shift.covariate,",
    replace: "covariate: { mean: 0, scale: 1 },",
    what: "external covariate shift never applied",
    tests: [SHIFT, GEN],
  },
  {
    id: "sim/external-prevalence-ignored",
    file: "sim/generate.ts",
    search: "prevalence: e.shift.prevalence ?? s.label.prevalence,",
    replace: "prevalence: s.label.prevalence,",
    what: "external prevalence shift never applied",
    tests: [SHIFT, GEN],
  },
  {
    id: "sim/external-shares-internal-stream",
    file: "sim/generate.ts",
    search: "streams.child(`sim/cohort/${site.name}`)",
    replace: 'streams.child("sim/cohort/internal")',
    what: "external cohorts drawn from the internal cohort's random stream",
    tests: [SHIFT, GEN],
  },
  // ---- study/
  {
    id: "study/seeds-all-equal",
    file: "study/plan.ts",
    search: "(_, i) => seed + i);",
    replace: "(_, _i) => seed);",
    what: "every repeat runs the same seed",
    tests: [SWEEP, PLAN],
  },
  {
    id: "study/external-sweep-value-ignored",
    file: "study/plan.ts",
    search:
      "return { ...neutral, shift: { ...neutral.shift, [field]: value } };",
    replace: "return neutral;",
    what: "an external sweep value never applied",
    tests: [SWEEP, PLAN],
  },
  {
    id: "study/scenario-sweep-value-ignored",
    file: "study/plan.ts",
    search: "[sw.path]: v,",
    replace: "[sw.path]: sw.values[0],",
    what: "a retrained sweep value never applied",
    tests: [SWEEP, PLAN],
  },
  {
    id: "study/label-sweep-variant-fraction",
    file: "study/plan.ts",
    search: "else variants.push({ labelFraction: v, rows: [row] });",
    replace: "else variants.push({ labelFraction: 1, rows: [row] });",
    what: "label-fraction sweep rows all finetuned on every label",
    tests: [SWEEP, PLAN],
  },
  {
    id: "study/job-label-fraction-dropped",
    file: "study/job.ts",
    search: "finetune: { ...base.finetune, labelFraction: v.labelFraction },",
    replace: "finetune: { ...base.finetune },",
    what: "a job never applies its variant's label fraction",
    tests: [SWEEP],
  },
  {
    id: "study/job-finetunes-base-config",
    file: "study/job.ts",
    search:
      "const res = await finetune(set, method, pre, cfg, job.seed, sample, {",
    replace:
      "const res = await finetune(set, method, pre, base, job.seed, sample, {",
    what: "the variant's config is recorded but not trained on",
    tests: [SWEEP],
  },
  {
    id: "study/job-data-seed-fixed",
    file: "study/job.ts",
    search: "generateCohorts(scenario!, job.seed)",
    replace: "generateCohorts(scenario!, 1)",
    what: "every seed trains on the same synthetic data",
    tests: [SWEEP],
  },
  {
    id: "study/acquisition-strength-noise",
    file: "study/plan.ts",
    search: "noiseHu: internal.noiseHu * (1 + 2 * s),",
    replace: "noiseHu: internal.noiseHu,",
    what: "acquisition-shift strength leaves the noise alone",
    tests: [SWEEP, PLAN],
  },
  // ---- study/ memory per worker (issue 17)
  {
    id: "study/memory-reads-vmpeak",
    file: "study/memory.ts",
    search: "/^VmHWM:\\s+(\\d+) kB\\s*$/m",
    replace: "/^VmPeak:\\s+(\\d+) kB\\s*$/m",
    what: "the peak RSS reported is the virtual size, not the resident set",
    tests: [MEM],
  },
  {
    id: "study/memory-footprint-drops-wasm",
    file: "study/memory.ts",
    search: "footprintMiB: round((u.heapTotal + u.external + wasm) / MIB),",
    replace: "footprintMiB: round((u.heapTotal + u.external) / MIB),",
    what: "a worker's footprint leaves out the tfjs wasm heap",
    tests: [RUN],
  },
  {
    id: "study/memory-job-peak-is-last-sample",
    file: "study/memory.ts",
    search: "if (s.footprintMiB > this.peak.footprintMiB) this.peak = s;",
    replace: "this.peak = s;",
    what: "a job's peak is its last sample, not its largest",
    tests: [MEM],
  },
  {
    id: "study/memory-isolate-peak-resets",
    file: "study/memory.ts",
    search: "isolatePeak = Math.max(isolatePeak, s.footprintMiB);",
    replace: "isolatePeak = s.footprintMiB;",
    what: "a worker's peak forgets its earlier, larger jobs",
    tests: [MEM],
  },
  {
    id: "study/memory-all-workers-one-name",
    file: "study/pool.ts",
    search: "worker: i + 1 }",
    replace: "worker: 1 }",
    what: "every worker's memory is recorded under worker 1",
    tests: [RUN],
  },
  {
    id: "study/job-pretrained-not-disposed",
    file: "study/job.ts",
    search: "    pre?.dispose();\n",
    replace: "\n",
    what: "a job leaks its pretrained encoder's tensors into the next job",
    tests: [RUN],
  },
  {
    id: "study/job-no-gc-between-jobs",
    file: "study/job.ts",
    search: "const collected = collectGarbage();",
    replace: "const collected = false;",
    what:
      "a worker keeps the previous job's cohorts until V8 gets to them (two jobs' data resident at once)",
    tests: ["tests/cli/sim_quick_test.ts"],
  },
  {
    id: "study/memory-gc-never-runs",
    file: "study/memory.ts",
    search: 'if (typeof gc !== "function") return false;',
    replace: "return false;",
    what: "garbage is never collected between jobs, even with --expose-gc",
    tests: [MEM],
  },
  {
    id: "study/worker-shares-worst-worker",
    file: "study/plan.ts",
    search: "const w = free.indexOf(Math.min(...free));",
    replace: "const w = free.indexOf(Math.max(...free));",
    what: "the replayed worker shares give each job to the busiest worker",
    tests: [PLAN],
  },
  {
    id: "benches/worker-rss-smallest-worker",
    file: "benches/study_bench.ts",
    search: "? Math.max(...known.map((r) => r.peakRssMiB!))",
    replace: "? Math.min(...known.map((r) => r.peakRssMiB!))",
    what: "the per-worker RSS line reports the lightest worker",
    tests: [SBENCH],
  },
  {
    id: "benches/worker-rss-target-strict",
    file: "benches/study_bench.ts",
    search: "met: peak <= WORKER_RSS_TARGET_MIB",
    replace: "met: peak < WORKER_RSS_TARGET_MIB",
    what: "exactly 1 GiB per worker counts as not met",
    tests: [SBENCH],
  },
  {
    id: "core/results-memory-not-volatile",
    file: "core/results.ts",
    search: "const { seconds: _s, memory: _m, ...rest } = copy.extra;",
    replace: "const { seconds: _s, ...rest } = copy.extra;",
    what: "a rerun's different memory figures make its rows a conflict",
    tests: ["tests/core/results_test.ts"],
  },
  // ---- reports/
  {
    id: "reports/bootstrap-positives-only",
    file: "reports/bootstrap.ts",
    search: "for (let j = 0; j < n; j++) s[m + j] = neg[rng.int(n)];",
    replace: "for (let j = 0; j < n; j++) s[m + j] = neg[j];",
    what: "bootstrap resamples positives only (intervals too narrow)",
    tests: BOOT,
  },
  {
    id: "reports/bootstrap-negatives-only",
    file: "reports/bootstrap.ts",
    search: "for (let i = 0; i < m; i++) s[i] = pos[rng.int(m)];",
    replace: "for (let i = 0; i < m; i++) s[i] = pos[i];",
    what: "bootstrap resamples negatives only",
    tests: BOOT,
  },
  {
    id: "reports/quantile-type",
    file: "reports/bootstrap.ts",
    search: "return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);",
    replace: "return sorted[lo];",
    what: "percentiles without interpolation",
    tests: BOOT,
  },
  {
    id: "reports/delong-one-component",
    file: "reports/auc.ts",
    search: "covariance(v10, v10) / pos.length +",
    replace: "0 * covariance(v10, v10) / pos.length +",
    what: "DeLong variance misses the positives' component",
    tests: [AUC],
  },
  {
    id: "reports/auc-ties-ignored",
    file: "reports/auc.ts",
    search: "for (let i = 0; i < m; i++) v10[i] = (tz[i] - tx[i]) / n;",
    replace:
      "for (let i = 0; i < m; i++) v10[i] = Math.floor(tz[i] - tx[i]) / n;",
    what: "ties not counted half in the structural components",
    tests: [AUC],
  },
  {
    id: "reports/brier-not-squared",
    file: "reports/calibration.ts",
    search: "s += (scores[i] - labels[i]) ** 2;",
    replace: "s += Math.abs(scores[i] - labels[i]);",
    what: "Brier score as mean absolute error",
    tests: ["tests/reports/calibration_test.ts"],
  },
  {
    id: "reports/seed-sd-population",
    file: "reports/aggregate.ts",
    search: "return { mean, sd: Math.sqrt(ss / (n - 1)) };",
    replace: "return { mean, sd: Math.sqrt(ss / n) };",
    what: "across-seed sd with n instead of n - 1",
    tests: ["tests/reports/aggregate_test.ts"],
  },
  // ---- real/
  {
    id: "real/nifti-qfac-ignored",
    file: "real/nifti.ts",
    search: "const qfac = h.pixDims[0] < 0 ? -1 : 1;",
    replace: "const qfac = 1;",
    what: "NIfTI qform qfac = -1 ignored (z flipped)",
    tests: NIFTI,
  },
  {
    id: "real/nifti-slope-ignored",
    file: "real/nifti.ts",
    search: "const slope = scaled ? h.scl_slope : 1;",
    replace: "const slope = 1;",
    what: "NIfTI scl_slope ignored",
    tests: NIFTI,
  },
  // ---- core/
  {
    id: "core/streams-ignore-name",
    file: "core/rng.ts",
    search: "return new Rng(`mmjepa/${this.seed}/${name}`);",
    replace: "return new Rng(`mmjepa/${this.seed}`);",
    what: "every random stream is the same stream",
    tests: ["tests/core/rng_test.ts"],
  },
  {
    id: "core/streams-ignore-seed",
    file: "core/rng.ts",
    search: "return new Rng(`mmjepa/${this.seed}/${name}`);",
    replace: "return new Rng(`mmjepa/0/${name}`);",
    what: "seeds all equal at the source",
    tests: ["tests/core/rng_test.ts"],
  },
  // ---- Second round: written after the first scored run, before any test
  // was written or changed for them (a check that the score is not only
  // measuring the mutations the new tests were designed against).
  {
    id: "models/imaging-only-sees-ehr",
    file: "models/methods.ts",
    search: '"imaging-only": {\n    uses: IMAGE,',
    replace: '"imaging-only": {\n    uses: BOTH,',
    what: "the imaging-only baseline sees the EHR",
    tests: [WIRING, LEAK],
  },
  {
    id: "models/contrastive-weight-ignored",
    file: "models/experiment.ts",
    search: "parts.push(pred ? c.mul(pc.contrastiveWeight) : c);",
    replace: "parts.push(c);",
    what: "jepa+contrastive ignores contrastiveWeight",
    tests: [JEPA, WIRING],
  },
  {
    id: "models/finetune-patience-dropped",
    file: "models/experiment.ts",
    search: "patience: fc.patience,",
    replace: "patience: undefined,",
    what: "finetuning never stops early",
    tests: [WIRING, LEAK],
  },
  {
    id: "models/pretrain-clip-dropped",
    file: "models/experiment.ts",
    search: "clipNorm: pc.clipNorm,",
    replace: "clipNorm: 0,",
    what: "pretraining without gradient clipping",
    tests: [JEPA, WIRING],
  },
  {
    id: "models/batch-of-one",
    file: "models/experiment.ts",
    search: "rng.permutation(n).slice(0, Math.min(n, size))",
    replace: "rng.permutation(n).slice(0, 1)",
    what: "every batch holds one patient",
    tests: [WIRING],
  },
  {
    id: "models/adamw-decays-everything",
    file: "models/optim.ts",
    search: ".add(flat.mul(this.#decay).mul(weightDecay));",
    replace: ".add(flat.mul(weightDecay));",
    what: "weight decay on biases, gains and embeddings too",
    tests: [WIRING, "tests/models/ema_test.ts"],
  },
  {
    id: "models/adam-no-bias-correction",
    file: "models/optim.ts",
    search:
      "const c1 = 1 - Math.pow(beta1, this.t), c2 = 1 - Math.pow(beta2, this.t);",
    replace: "const c1 = 1, c2 = 1;",
    what: "Adam without bias correction",
    tests: [WIRING, "tests/models/ema_test.ts"],
  },
  {
    id: "models/no-warmup",
    file: "models/optim.ts",
    search: "if (step < warm) return peak * (step + 1) / warm;",
    replace: "if (step < warm) return peak;",
    what: "no learning-rate warmup",
    tests: [WIRING, "tests/models/ema_test.ts"],
  },
  {
    id: "models/normaliser-variance",
    file: "models/batch.ts",
    search: "std[j] = v > 1e-12 ? Math.sqrt(v) : 1;",
    replace: "std[j] = v > 1e-12 ? v : 1;",
    what: "standardisation divides by the variance",
    tests: [LEAK, "tests/models/batch_test.ts"],
  },
  {
    id: "models/modality-mask-always-image",
    file: "models/masks.ts",
    search:
      'if (s === "modality" && both) pick = rng.bernoulli(0.5) ? "image" : "ehr";',
    replace: 'if (s === "modality" && both) pick = "image";',
    what: "the modality mask always hides the image, never the EHR",
    tests: [JEPA, MASKS, "tests/models/mask_balance_test.ts"],
  },
  {
    id: "models/jepa-smooth-l1-unscaled",
    file: "models/jepa.ts",
    search: "err = small.square().mul(0.5).add(a.sub(small));",
    replace: "err = small.square().add(a.sub(small));",
    what: "smooth-L1 JEPA loss loses its 1/2 (not continuous in slope)",
    tests: [JEPA],
  },
  {
    id: "kernels/wasm-adamw-clip-off",
    file: "kernels/wasm/optim.ts",
    search: "const scale = a.clipNorm > 0",
    replace: "const scale = false",
    what: "the fused wasm AdamW never clips",
    tests: ["tests/kernels/wasm/kernels_test.ts"],
  },
  {
    id: "kernels/wasm-ema-swapped",
    file: "kernels/wasm/optim.ts",
    search: "o[at] = t[at] * mom + p[j] * (1 - mom);",
    replace: "o[at] = p[j] * mom + t[at] * (1 - mom);",
    what: "the fused wasm EMA swaps target and online",
    tests: ["tests/kernels/wasm/kernels_test.ts"],
  },
  {
    id: "kernels/webgpu-split-chunk-offset",
    file: "kernels/webgpu/dense.ts",
    search: 'aStride: chunk ? "u.u6 * u.u4" : "0",',
    replace: 'aStride: chunk ? "u.u6 * u.u5" : "0",',
    what: "each chunk of a split weight gradient reads the wrong rows of x",
    tests: ["tests/kernels/webgpu/dense_test.ts"],
  },
  {
    id: "kernels/webgpu-split-last-part-dropped",
    file: "kernels/webgpu/dense.ts",
    search: "for (var c = 0; c < u.u2; c++) { s += PW[c * u.u0 + gi]; }",
    replace: "for (var c = 1; c < u.u2; c++) { s += PW[c * u.u0 + gi]; }",
    what: "the split weight gradient loses its first chunk of rows",
    tests: ["tests/kernels/webgpu/dense_test.ts"],
  },
  {
    id: "kernels/webgpu-split-bias-chunk",
    file: "kernels/webgpu/dense.ts",
    search: "let lo = c * u.u6;",
    replace: "let lo = c * u.u5;",
    what: "each chunk of a split bias gradient sums the wrong rows",
    tests: ["tests/kernels/webgpu/dense_test.ts"],
  },
  {
    id: "kernels/webgpu-split-sum-rows",
    file: "kernels/webgpu/reduce.ts",
    search: "for (var j = c * u.u2; j < hi; j++)",
    replace: "for (var j = c * u.u0; j < hi; j++)",
    what: "a split outer sum (layer-norm, bias gradients) reads the wrong rows",
    tests: ["tests/kernels/webgpu/softmax_reduce_test.ts"],
  },
  {
    id: "kernels/webgpu-split-mean-divisor",
    file: "kernels/webgpu/reduce.ts",
    search: 'reduceCode(false, parts, op === "mean", red)',
    replace: 'reduceCode(false, parts, op === "mean")',
    what: "a split outer mean divides by the chunk count",
    tests: ["tests/kernels/webgpu/softmax_reduce_test.ts"],
  },
  {
    id: "kernels/wasm-attention-exp-poly",
    file: "kernels/wasm/simd.ts",
    search: "5.0000001201e-1,",
    replace: "4.0e-1,",
    what: "the wasm attention softmax's exp is off by about 1%",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-bias-row",
    file: "kernels/wasm/attention.ts",
    search: "return Nb > 1 ? 4 * nk : 0;",
    replace: "return 0;",
    what: "every query row gets the first row's attention bias",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-tail",
    file: "kernels/wasm/attention.ts",
    search: "const quads = nk >> 2, rem = nk & 3, scaleBits",
    replace: "const quads = nk >> 2, rem = 0, scaleBits",
    what: "the attention softmax skips the last N % 4 keys",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-lse",
    file: "kernels/wasm/attention.ts",
    search: "Math.log(st[2 * r + 1])",
    replace: "Math.log(st[2 * r + 1] + 1e-3)",
    what: "the log-sum-exp output of the wasm attention is slightly off",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-dv-untransposed",
    file: "kernels/wasm/attention.ts",
    search: "{ at: P, row: 4, col: 4 * nk }",
    replace: "{ at: P, row: 4 * nk, col: 4 }",
    what: "dv = P do instead of P^T do",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-grad-unscaled",
    file: "kernels/wasm/attention.ts",
    search:
      "k.softmaxGradScaled(pdp, P, pdp, heads * nq, quads, rem, scaleBits);",
    replace:
      "k.softmaxGradScaled(pdp, P, pdp, heads * nq, quads, rem, f32Bits(1));",
    what: "dq and dk miss the 1/sqrt(d) scale",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-skip-wrong-query",
    file: "kernels/wasm/attention.ts",
    search: "gatherRows(heap, qkvAt, qAt, g, p, 0, k);",
    replace: "gatherRows(heap, qkvAt, qAt, g, p, 1, k);",
    what: "with skipHidden, the kept queries are read one column off",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-skip-dy-rows",
    file: "kernels/wasm/attention.ts",
    search: "const from = (dyP >> 2) + q.idx[t] * w;",
    replace: "const from = (dyP >> 2) + t * w;",
    what: "with skipHidden, the gradient reads dy of the wrong tokens",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-skip-bias-rows",
    file: "kernels/wasm/attention.ts",
    search: "const from = src + (Nb > 1 && q.idx ? q.idx[i] : i) * N;",
    replace: "const from = src + i * N;",
    what:
      "with skipHidden and a per-query bias, kept queries get the wrong bias rows",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-skip-scatter",
    file: "kernels/wasm/attention.ts",
    search: "heap.copyWithin(row, s + t * sr, s + t * sr + w);",
    replace: "heap.copyWithin(row, s, s + w);",
    what: "with skipHidden, outputs land on the wrong token rows",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-small-bias-copies",
    file: "kernels/wasm/attention.ts",
    search:
      "heap.copyWithin(at + have, at, at + Math.min(have, block - have));",
    replace:
      "heap.copyWithin(at + have, at + 1, at + 1 + Math.min(have, block - have));",
    what:
      "batched small-N attention: score rows past the first get shifted bias rows",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-small-dv-untransposed",
    file: "kernels/wasm/attention.ts",
    search: "{ at: P, row: 4, col: 4 * N }",
    replace: "{ at: P, row: 4 * N, col: 4 }",
    what: "batched small-N attention: dv = P do instead of P^T do",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-small-transpose",
    file: "kernels/wasm/attention.ts",
    search: "for (let c = 0; c < w; c++) heap[at + c * N] = heap[row + c];",
    replace: "for (let c = 0; c < w; c++) heap[at + c] = heap[row + c];",
    what: "batched small-N attention: k^T is laid out wrongly",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-small-hidden-out",
    file: "kernels/wasm/attention.ts",
    search: "if (!hidden[t]) continue;",
    replace: "continue;",
    what:
      "batched small-N attention with skipHidden: hidden rows are not zeroed",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-small-hidden-dy",
    file: "kernels/wasm/attention.ts",
    search: "if (hidden[t]) heap.fill(",
    replace: "if (false) heap.fill(",
    what:
      "batched small-N attention with skipHidden: the gradient uses dy of hidden rows",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-saved-p-offset",
    file: "kernels/wasm/attention.ts",
    search: "let P = pSaved + 4 * plan.offsets[p];",
    replace: "let P = pSaved;",
    what: "the gradient reads the first patient's saved P for every patient",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-saved-p-unnormalized",
    file: "kernels/wasm/attention.ts",
    search: "softmaxHeads(k, g, ps, pb, pst, bRow, nq, nk, 1, true);",
    replace: "softmaxHeads(k, g, ps, pb, pst, bRow, nq, nk, 0, true);",
    what: "the forward pass's P (and o) are not divided by the row sums",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-gather-row-offset",
    file: "kernels/wasm/gather.ts",
    search: "const from = src + idx[i] * size;",
    replace: "const from = src + idx[i] * size + 1;",
    what: "the wasm row gather copies rows shifted by one number",
    tests: ["tests/kernels/wasm/gather_test.ts"],
  },
  {
    id: "kernels/wasm-gather-no-range-check",
    file: "kernels/wasm/gather.ts",
    search: "if (!(idx[i] >= 0 && idx[i] < rows)) {",
    replace: "if (false) {",
    what: "an out-of-range gather index reads past the tensor silently",
    tests: ["tests/kernels/wasm/gather_test.ts"],
  },
  {
    id: "kernels/wasm-split-offset",
    file: "kernels/wasm/gather.ts",
    search: "const from = src + b * row + off;",
    replace: "const from = src + b * row;",
    what: "every part of a wasm SplitV is the first part's numbers",
    tests: ["tests/kernels/wasm/gather_test.ts"],
  },
  {
    id: "models/image-rows-grad",
    file: "models/tokenizers.ts",
    search:
      "gradFunc: (dy: tf.Tensor2D, [k]: tf.Tensor[]) => tf.gather(dy, k),",
    replace:
      "gradFunc: (dy: tf.Tensor2D, [k]: tf.Tensor[]) => tf.gather(dy, k.reverse()),",
    what:
      "the patch embedding's gradient comes from the wrong tokens when empty scan slots are skipped",
    tests: ["tests/models/tokenizers_test.ts"],
  },
  {
    id: "models/image-rows-which",
    file: "models/tokenizers.ts",
    search: "rows.push(r);",
    replace: "rows.push(Math.max(0, r - 1));",
    what:
      "skipping empty scan slots embeds each kept token from the previous token's voxels",
    tests: ["tests/models/tokenizers_test.ts"],
  },
  {
    id: "kernels/wasm-attention-no-fallback",
    file: "kernels/wasm/attention.ts",
    search: "if (!any) keep.fill(1, 0, N);",
    replace: "",
    what:
      "a patient whose keys are all masked drops every key (tfjs spreads the softmax over all)",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-attention-drops-live-keys",
    file: "kernels/wasm/attention.ts",
    search: "const MASKED = -1e6;",
    replace: "const MASKED = -0.5;",
    what: "key compaction drops keys that are not masked",
    tests: [ATT],
  },
  {
    id: "models/fused-attention-scale",
    file: "models/transformer.ts",
    search: "{ n, heads: h, scale, skipHidden: opts.hiddenUnread ? 1 : 0 },",
    replace:
      "{ n, heads: h, scale: 1, skipHidden: opts.hiddenUnread ? 1 : 0 },",
    what: "the fused attention path forgets the 1/sqrt(d) scale",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-fma-operands",
    file: "kernels/wasm/simd.ts",
    search: "if (fma) f.get(s).get(bv[q]).get(x).f32x4RelaxedMadd().set(x);",
    replace: "if (fma) f.get(x).get(bv[q]).get(s).f32x4RelaxedMadd().set(x);",
    what: "with relaxed-SIMD FMA on, the products add the wrong operand",
    tests: [ATT],
  },
  {
    id: "study/pool-shortest-first",
    file: "study/plan.ts",
    search: ".sort((a, b) => b.c - a.c || a.k - b.k)",
    replace: ".sort((a, b) => a.c - b.c || a.k - b.k)",
    nth: 1,
    what:
      "workers take the cheapest jobs first (the pretraining jobs end last)",
    tests: ["tests/study/plan_test.ts"],
  },
  {
    id: "study/experiment-label-fraction-ignored",
    file: "study/plan.ts",
    search:
      "const variants: Variant[] = [{ labelFraction: mainFraction, rows: main }];",
    replace: "const variants: Variant[] = [{ labelFraction: 1, rows: main }];",
    what:
      "a study's finetune.labelFraction is silently replaced by 1 on the main rows",
    tests: [PLAN],
  },
  {
    id: "sim/label-noise-ignored",
    file: "sim/generate.ts",
    search: "const flip = rng.bernoulli(s.label.labelNoise);",
    replace: "const flip = rng.bernoulli(0);",
    what: "label noise never applied",
    tests: [SHIFT, GEN, "tests/sim/knobs_test.ts"],
  },
  {
    id: "sim/pretrain-missingness-swapped",
    file: "sim/generate.ts",
    search: "      ? s.missingness.pretrain",
    replace: "      ? s.missingness.labeled",
    what: "the pretraining pool gets the labeled split's missingness",
    tests: [SHIFT, GEN, "tests/sim/knobs_test.ts"],
  },
  {
    id: "study/sweep-row-main-external",
    file: "study/plan.ts",
    search: "external: sweepCohortName(sw.knob, v),",
    replace: "external: mainExternal ?? sweepCohortName(sw.knob, v),",
    what: "external sweep rows report the main external cohort",
    tests: [SWEEP, PLAN],
  },
  {
    id: "study/shard-balance-ignores-cost",
    file: "study/plan.ts",
    search: "load[best] += c;",
    replace: "load[best] += 1;",
    what: "shards balanced on job count: one machine gets every slow method",
    tests: [SHARD],
  },
  {
    id: "study/shard-jobs-renumbered",
    file: "study/run.ts",
    search:
      "const jobs = mine.filter((j) => !jobRunIds(j).every((id) => done.has(id)));",
    replace:
      "const jobs = mine.filter((j) => !jobRunIds(j).every((id) => done.has(id))).map((j, k) => ({ ...j, index: k }));",
    what:
      "a shard or resumed run renumbers its jobs: rows record the wrong plan position",
    tests: [SHARD],
  },
  {
    id: "reports/row-order-from-files",
    file: "reports/markdown.ts",
    search: "    canonicalOrder(rows),",
    replace: "    rows,",
    what:
      "the merged report depends on the order the shard files were given in",
    tests: [SHARD],
  },
  {
    id: "study/slurm-merge-one-shard",
    file: "study/slurm.ts",
    search: '} report --force ${files.join(" ")}`,',
    replace: "} report --force ${files[0]}`,",
    what: "the SLURM merge job reports only the first shard",
    tests: ["tests/study/slurm_test.ts", "tests/study/slurm_cluster_test.ts"],
  },
  {
    id: "reports/delong-paired-no-covariance",
    file: "reports/auc.ts",
    search: "const variance = varA + varB - 2 * cov;",
    replace: "const variance = varA + varB;",
    what: "paired DeLong test treats the two scorings as independent",
    tests: [AUC],
  },
  {
    id: "models/finetune-clip-dropped",
    file: "models/experiment.ts",
    search: "clipNorm: fc.clipNorm,",
    replace: "clipNorm: 0,",
    what: "finetuning without gradient clipping",
    tests: [WIRING],
  },
  {
    id: "reports/bootstrap-unstratified",
    file: "reports/bootstrap.ts",
    search: "for (let i = 0; i < m; i++) s[i] = pos[rng.int(m)];",
    replace:
      "for (let i = 0; i < m + n; i++) { const k = rng.int(m + n); y[i] = k < m ? 1 : 0; s[i] = k < m ? pos[k] : neg[k - m]; } for (let i = 0; i < 0; i++) s[i] = pos[rng.int(m)];",
    what:
      "bootstrap draws from the pooled sample: class sizes vary, a class can vanish",
    tests: BOOT,
  },
  {
    id: "sim/spike-lobes-summed",
    file: "sim/volume.ts",
    search: "if (tk > ts) ts = tk;",
    replace: "ts += tk;",
    what: "spicule terms add up: crossing spicules grow denser than tissue",
    tests: [RENDER],
  },
  {
    id: "sim/spicules-sub-voxel",
    file: "sim/volume.ts",
    search: "const SPIKE_MM = 10;",
    replace: "const SPIKE_MM = 2;",
    what:
      "spicules too short for 1.75 mm voxels: spiculation is invisible to the volume measurements",
    tests: [RENDER],
  },
  {
    id: "sim/ceiling-counts-unseen-texture",
    file: "sim/features.ts",
    search: "export const VOLUME_UNSEEN_PROPERTIES: readonly number[] = [5];",
    replace: "export const VOLUME_UNSEEN_PROPERTIES: readonly number[] = [];",
    what:
      "the volume ceiling counts the texture that no measurement reads from the volume",
    tests: [BAYES],
  },
  {
    id: "sim/fov-back-to-32mm",
    file: "sim/presets.ts",
    search: "acquisition: { spacingMm: 1.75 },",
    replace: "acquisition: { spacingMm: 1 },",
    what: "paper-volume's 32 mm field of view clips the largest nodules",
    tests: [RENDER],
  },
  {
    id: "sim/detector-reads-wrong-property",
    file: "sim/latent.ts",
    search: "featureMix[k * K + k] = 1;",
    replace: "featureMix[k * K + ((k + 1) % K)] = 1;",
    what: "features no longer measure the nodule the volume renders",
    tests: [LEVELS],
  },
  {
    id: "sim/scans-share-patient-stream",
    file: "sim/generate.ts",
    search: 'const scanRng = new FastRng(streams.get("scans"));',
    replace: "const scanRng = rng;",
    what: "the two imaging levels of a seed draw different patients",
    tests: [LEVELS],
  },
  {
    id: "sim/ceiling-ignores-rendering",
    file: "sim/generate.ts",
    search: "imageRows: imageRows(bio, site.rho, s.imaging.level),",
    replace: "imageRows: undefined,",
    what:
      "the image ceiling assumes the scan shows every image latent, not what it renders",
    tests: [LEVELS],
  },
  {
    id: "sim/ceiling-hidden-part-not-projected",
    file: "sim/bayes.ts",
    search: "for (let j = 0; j < dim; j++) u[j] -= pu[j];",
    replace: "",
    what: "the image ceiling's Monte Carlo redraws what the image shows",
    tests: [BAYES],
  },
  {
    id: "sim/known-answer-fixed-ignored",
    file: "sim/known_answer.ts",
    search: "{ ...noduleFromSource(m, 1), ...o.fixed }",
    replace: "{ ...noduleFromSource(m, 1) }",
    what: "known-answer cohorts vary the property a test holds fixed",
    tests: ["tests/sim/known_answer_test.ts"],
  },
  {
    id: "sim/volumes-not-windowed",
    file: "sim/generate.ts",
    search: "DEFAULT_HU_WINDOW,",
    nth: 1,
    replace: "[-5000, 5000],",
    what: "simulated volumes skip the HU window real ROIs go through",
    tests: ["tests/sim/volume_test.ts"],
  },
  {
    id: "core/radiomics-solid-is-any-nodule",
    file: "core/radiomics.ts",
    search: "if (v > SOLID_THRESHOLD_HU) solid++;",
    replace: "if (v > thr) solid++;",
    what: "the solid-part measurement counts ground glass",
    tests: [RENDER],
  },
  {
    id: "core/radiomics-edge-gradient-flat",
    file: "core/radiomics.ts",
    search: "if (ok) grad += hu[i] - hu[j];",
    replace: "if (ok) grad += 100;",
    what: "the edge measurement no longer sees margin sharpness",
    tests: [RENDER],
  },
  {
    id: "models/logreg-volume-unwired",
    file: "models/experiment.ts",
    search: 'method === "logreg-volume"',
    replace: 'method === "logreg-volume-off"',
    what:
      "logreg-volume silently fits patch means instead of nodule measurements",
    tests: [LRVOL],
  },
  {
    id: "models/augment-no-permutations",
    file: "models/augment.ts",
    search: "? PERMS[rng.int(6)]",
    replace: "? PERMS[0]",
    what: "augmentation draws 8 flips instead of the 48 cube symmetries",
    tests: [AUG],
  },
  {
    id: "models/augment-flip-ignored",
    file: "models/augment.ts",
    search: "if (t.flip[k]) i = n - 1 - i;",
    replace: "",
    what: "drawn flips are not applied: fewer distinct training volumes",
    tests: [AUG],
  },
  {
    id: "models/augment-jitter-ignored",
    file: "models/batch.ts",
    search: "const sd = norm.imageStd[0] / (tf?.scale ?? 1);",
    replace: "const sd = norm.imageStd[0];",
    what: "the intensity jitter's scale is dropped",
    tests: [AUG],
  },
  {
    id: "models/pretrain-augment-ignored",
    file: "models/experiment.ts",
    search: "        pretrainAugment?.(idx.length, step),",
    replace: "        undefined,",
    what:
      "pretrain.augment is accepted but pretraining batches are not augmented",
    tests: [AUG],
  },
  {
    id: "models/probe-first-ignored",
    file: "models/experiment.ts",
    search: "if (pre && fc.probeFirst) await probeHead(trainSet);",
    replace: "if (pre && !fc.probeFirst) await probeHead(trainSet);",
    what:
      "finetune.probeFirst (LP-FT) is accepted but finetuning starts from a random head",
    tests: ["tests/models/jepa_volume_options_test.ts"],
  },
  {
    id: "models/augment-not-in-training-batches",
    file: "models/experiment.ts",
    search: "const t = augmentFor?.(idx.length, step);",
    replace: "const t = undefined;",
    what: "volume finetuning trains on unaugmented batches",
    tests: [AUG],
  },
  {
    id: "models/augment-off-by-default",
    file: "models/config.ts",
    search: 'augment: oneOf(SYMMETRY_SETS, "all"),',
    replace: 'augment: oneOf(SYMMETRY_SETS, "none"),',
    what:
      "volume finetuning without cube symmetries: the encoder memorises the training volumes",
    tests: [VKA],
  },
  {
    id: "models/augment-shift-on-by-default",
    file: "models/config.ts",
    search: "augmentShift: int(0, 64, 0),",
    replace: "augmentShift: int(0, 64, 2),",
    what:
      "volume finetuning shifts by up to 2 voxels again: nodules move across the patch grid and size reads at 0.63",
    tests: [VKA],
  },
  {
    id: "models/sincos-one-axis",
    file: "models/tokenizers.ts",
    search: "const angle = coord[a] / Math.pow(10000, k / d);",
    replace: "const angle = coord[0] / Math.pow(10000, k / d);",
    what:
      "patch positions code only the z coordinate: patches in a slice collide",
    tests: [AUG],
  },
  {
    id: "models/sincos-not-added",
    file: "models/tokenizers.ts",
    search: "if (c.fixed) pos = pos.add(c.fixed);",
    replace: "",
    what: "volume patches carry no position at all",
    tests: [AUG],
  },
  {
    id: "kernels/wasm-attention-plan-ignores-geometry",
    file: "kernels/wasm/attention.ts",
    search: "if (hit?.key === key) return hit.plan;",
    replace: "if (hit) return hit.plan;",
    what:
      "a bias tensor read again with other heads reuses a key plan of the wrong size",
    tests: [ATT],
  },
  {
    id: "models/augment-one-pass-drops-y",
    file: "models/batch.ts",
    search: "const base = t0[z0 + dz] + t1[y0 + dy], local",
    replace: "const base = t0[z0 + dz] + t1[y0], local",
    what:
      "augmented volume patches repeat their first row: training sees smeared nodules",
    tests: [AUG],
  },
  {
    id: "models/compact-rows-mislabelled",
    file: "models/batch.ts",
    search: "imageRows[nextRow++] = first + q;",
    replace: "imageRows[nextRow++] = first;",
    what:
      "a compact volume batch puts every patch of a scan into its first token slot",
    tests: ["tests/models/tokenizers_test.ts"],
  },
  {
    id: "models/compact-rows-padded-copy",
    file: "models/tokenizers.ts",
    search: "rows.forEach((r, i) => slots[r] = i);",
    replace: "rows.forEach((r, i) => slots[i] = r);",
    what: "compact volume rows land in the wrong token slots",
    tests: ["tests/models/tokenizers_test.ts"],
  },
  {
    id: "models/val-smoothing-ignored",
    file: "models/train.ts",
    search: "const a = cfg.smoothing ?? 0;",
    replace: "const a = 0;",
    what: "early stopping judges the raw validation loss of a small split",
    tests: [PLATEAU],
  },
  {
    id: "models/volume-scan-slots-configured",
    file: "models/batch.ts",
    search: "? Math.min(model.maxScans, scanSlotsIn(cohort))",
    replace: "? model.maxScans",
    what: "one-scan volume cohorts carry two padding scans of tokens",
    tests: [BATCH],
  },
  {
    id: "models/volume-patches-from-corner",
    file: "models/batch.ts",
    search: "dst[out + j] = (data[corner + offsets[j]] - m) / sd;",
    replace: "dst[out + j] = (data[offsets[j]] - m) / sd;",
    what: "every volume patch token reads the corner patch",
    tests: [VKA],
  },
  {
    id: "kernels/wasm-infonce-one-direction",
    file: "kernels/wasm/infonce.ts",
    search: "total += v[i] * ((d - r[i]) + (d - c[i]));",
    replace: "total += v[i] * 2 * (d - r[i]);",
    what: "the fused contrastive loss drops the EHR-to-image direction",
    tests: [NCE],
  },
  {
    id: "kernels/wasm-infonce-mask-ignored",
    file: "kernels/wasm/infonce.ts",
    search: "(x) => Math.fround((1 - x) * MASK)",
    replace: "() => 0",
    what: "patients without both modalities stay in the contrastive softmax",
    tests: [NCE, CON],
  },
  {
    id: "kernels/wasm-infonce-dze-untransposed",
    file: "kernels/wasm/infonce.ts",
    search: "{ at: ps, row: 4, col: 4 * n }",
    replace: "{ at: ps, row: 4 * n, col: 4 }",
    what: "the EHR embedding gradient uses dS instead of dS^T",
    tests: [NCE],
  },
  {
    id: "kernels/wasm-infonce-scale-grad",
    file: "kernels/wasm/infonce.ts",
    search: "ds += g * S[k * n + l];",
    replace: "ds += g;",
    what: "the learnable temperature gets a wrong gradient",
    tests: [NCE],
  },
  {
    id: "kernels/wasm-relu-grad-tail",
    file: "kernels/wasm/relu.ts",
    search: "out[i] = v[i] > 0 ? g[i] : 0;",
    replace: "out[i] = g[i];",
    what: "the last size % 4 ReLU gradients pass through negative inputs",
    tests: [NCE],
  },
  {
    id: "kernels/wasm-relu-grad-mask",
    file: "kernels/wasm/simd.ts",
    search: ".v128Zero().f32x4Gt()\n      .v128And()",
    replace: ".v128Zero().f32x4Gt()\n      .drop()",
    what: "the SIMD ReLU gradient keeps the mask instead of dy",
    tests: [NCE],
  },
  {
    id: "models/contrastive-pool-one-side",
    file: "models/contrastive.ts",
    search: "tf.stack([imgMask, ehrMask], 1)",
    replace: "tf.stack([imgMask, imgMask], 1)",
    what: "the EHR embedding of the contrastive loss pools the image tokens",
    tests: [CON],
  },
  {
    id: "kernels/wasm-dense-grad-wide-untransposed",
    file: "kernels/wasm/dense.ts",
    search: "dst[j * nIn + i] = src[i * nOut + j];",
    replace: "dst[i * nOut + j] = src[i * nOut + j];",
    what: "the input gradient of wide dense layers multiplies by w, not w^T",
    tests: ["tests/kernels/wasm/kernels_test.ts"],
  },
  {
    id: "models/stem-nested-order-axes",
    file: "models/batch.ts",
    search: "nest(z + dz * h, y + dy * h, x + dx * h, h);",
    replace: "nest(z + dx * h, y + dy * h, x + dz * h, h);",
    what:
      "nested 2^3 subcubes come in x-slowest order: the stem's cells no longer match a convolution",
    tests: [STEM],
  },
  {
    id: "models/meanmax-pool-unmasked",
    file: "models/encoder.ts",
    search: "const max = out.add(m.sub(1).mul(1e9)).max(1).mul(any);",
    replace: "const max = out.max(1).mul(any);",
    what: "mean-max pooling takes the max over hidden and padding tokens too",
    tests: [STEM],
  },
  {
    id: "models/stem-layer-input-grad",
    file: "models/tokenizers.ts",
    search: "linear(h, w, p[`${stemName(k)}/b`], { inputGrad: k > 0 }),",
    replace: "linear(h, w, p[`${stemName(k)}/b`], { inputGrad: false }),",
    what:
      "the second stem layer passes no gradient to the first: layer 1 never trains",
    tests: [STEM],
  },
  {
    id: "models/meanmax-pool-ignored",
    file: "models/encoder.ts",
    search: 'if ((this.model.pooling ?? "mean") === "mean") return mean;',
    replace: "return mean;",
    what: "model.pooling meanmax silently pools by the mean",
    tests: [VKA],
  },
  {
    id: "models/radiomics-targets-misaligned",
    file: "models/experiment.ts",
    search: "return objective(h, masksFor(h, `pretrain/mask/${step}`), idx);",
    replace:
      "return objective(h, masksFor(h, `pretrain/mask/${step}`), idx.map((k) => (k + 1) % fit.length));",
    what:
      "the radiomics pretext regresses each volume onto another patient's measurements",
    tests: [RAD],
  },
  {
    id: "models/radiomics-loss-dropped",
    file: "models/experiment.ts",
    search: "radiomicsLoss(enc, { ...online.dict, ...rad.dict }, x, t, has),",
    replace:
      "radiomicsLoss(enc, { ...online.dict, ...rad.dict }, x, t, has).mul(0),",
    what: "radiomics-image pretrains nothing: the encoder stays at random init",
    tests: [RAD],
  },
  {
    id: "models/radiomics-targets-unstandardized",
    file: "models/radiomics_pretext.ts",
    search: "values[i * dim + j] = (raw[i * dim + j] - mean) / sd;",
    replace: "values[i * dim + j] = raw[i * dim + j];",
    what:
      "raw measurements (volumes in the thousands of mm^3) swamp the pretext loss",
    tests: [RAD],
  },
  // ---- issue 17: features steps (memoized time codes, fused contrastive head)
  {
    id: "models/time-code-cache-keyed-by-width-only",
    file: "models/tokenizers.ts",
    search: "let code = byTime.get(t);",
    replace: "let code = byTime.values().next().value;",
    what:
      "every token gets the time code of the first time value seen: time encoding carries nothing",
    tests: [TIME],
  },
  {
    id: "models/contrastive-host-validity-either-side",
    file: "models/contrastive.ts",
    search: "valid[r] = counts[r * 2] > 0 && counts[r * 2 + 1] > 0 ? 1 : 0;",
    replace: "valid[r] = counts[r * 2] > 0 || counts[r * 2 + 1] > 0 ? 1 : 0;",
    what:
      "patients with one modality enter InfoNCE as positives and negatives (host-built masks)",
    tests: [HOSTMASK],
  },
  {
    id: "models/encoder-host-bias-crosses-sides",
    file: "models/encoder.ts",
    search: "const side = Math.fround((s === img[k] ? 0 : 1) * big);",
    replace: "const side = 0;",
    what:
      "contrastive pretraining's encoder lets image and EHR tokens attend to each other: the task turns trivial",
    tests: [HOSTMASK],
  },
  {
    id: "kernels/infonce-unit-grad-radial-kept",
    file: "kernels/wasm/infonce.ts",
    search: "du[i * w + q] = (du[i * w + q] - u[i * w + q] * dot) * inv;",
    replace: "du[i * w + q] = du[i * w + q] * inv;",
    what:
      "the fused InfoNCE's gradient ignores the unit-length scaling of the projections",
    tests: [NCE],
  },
  {
    id: "kernels/infonce-log-scale-clamp-grad",
    file: "kernels/wasm/infonce.ts",
    search: "d[0] = s0 <= LOG_CAP ? d[0] * sc : 0;",
    replace: "d[0] = d[0] * sc;",
    what:
      "the logit scale keeps growing past CLIP's cap of 100 (gradient through the clamp)",
    tests: [NCE],
  },
  {
    id: "kernels/infonce-one-shift-invalid-columns",
    file: "kernels/wasm/infonce.ts",
    search: "if (v[l] === 0) continue;",
    nth: 1,
    replace: "",
    what:
      "patients without both modalities stay in the softmaxes as negatives (fused InfoNCE)",
    tests: [NCE],
  },
  {
    id: "models/untaped-records",
    file: "models/untaped.ts",
    search: "return g() as T;",
    replace: "return f();",
    what:
      "the EMA target branch and the masks are recorded on the gradient tape (slower; a gradient could reach them)",
    tests: ["tests/models/untaped_test.ts"],
  },
  {
    id: "kernels/wasm-cast-shares-across-dtypes",
    file: "kernels/wasm/mod.ts",
    search:
      'args.inputs.x.dtype === "float32" && args.attrs?.dtype === "float32"',
    replace: 'args.inputs.x.dtype === "float32"',
    what:
      "a float32 tensor cast to int32 on wasm keeps its float bytes (labels, indices, masks go wrong)",
    tests: ["tests/kernels/wasm/kernels_test.ts"],
  },
  {
    id: "kernels/attention-small-hands-over-garbage",
    file: "kernels/wasm/attention.ts",
    search: "return sc.s!;",
    replace: "be.typedArrayFromHeap(sc.s!).fill(0.5);\n  return sc.s!;",
    what:
      "features-mode attention's gradient reads a P that is not the forward pass's softmax",
    tests: [ATT],
  },
  {
    id: "kernels/wasm-sum-drops-last-row",
    file: "kernels/wasm/sum.ts",
    search: "simdOf(be).colsum(addr(be, x), addr(be, out), rows, inner / 4);",
    replace:
      "simdOf(be).colsum(addr(be, x), addr(be, out), rows - 1, inner / 4);",
    what:
      "every gradient summed over the batch (biases, gains, embeddings) misses one row",
    tests: [SUM],
  },
  {
    id: "kernels/wasm-sum-any-axes",
    file: "kernels/wasm/sum.ts",
    search: "if (!axes.every((a, i) => a === i)) return null;",
    replace: "",
    what: "sums over inner axes on wasm add the wrong numbers",
    tests: [SUM],
  },
  {
    id: "models/affine-norm-gain-grad-unweighted",
    file: "models/transformer.ts",
    search: "shaped(dy.mul(sy).sum(lead), sg.shape),",
    replace: "shaped(dy.sum(lead), sg.shape),",
    what: "the final layer norm's gain learns from the bias's gradient",
    tests: [LN],
  },
  {
    id: "models/affine-norm-input-grad-ungained",
    file: "models/transformer.ts",
    search: "dy: dy.mul(sg),",
    replace: "dy,",
    what:
      "the gradient below every stack's final norm ignores its gain (the encoder learns from a wrong signal)",
    tests: [LN],
  },
  {
    id: "models/jepa-l2-grad-unmasked",
    file: "models/jepa.ts",
    search: "dy.div(sc).mul(sm).mul(d.mul(2)),",
    replace: "dy.div(sc).mul(d.mul(2)),",
    what:
      "JEPA's l2 gradient also pulls the predictions at context tokens toward their targets",
    tests: ["tests/models/jepa_regression_test.ts"],
  },
  {
    id: "models/token-sum-unmasked",
    file: "models/tokenizers.ts",
    search: "return content.add(pos).mul(keep);",
    replace: "return content.add(pos);",
    what:
      "absent tokens enter the encoder with their position and time codes (padding is no longer zero)",
    tests: ["tests/models/token_sum_test.ts"],
  },
];
