/**
 * Figures as SVG strings, rendered headless from vega-lite specs (no
 * browser or canvas needed).
 *
 * @module
 */
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import { StatsError } from "./auc.ts";

/**
 * Renders a vega-lite spec to an SVG string.
 *
 * @example
 * ```ts
 * const svg = await renderSvg({ data: { values: [{ x: 1, y: 2 }] }, mark: "point",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } } });
 * ```
 */
export async function renderSvg(
  spec: Record<string, unknown>,
): Promise<string> {
  // Text stays readable at journal column width: nothing under 12 px.
  const own = (spec.config ?? {}) as Record<string, Record<string, unknown>>;
  const config = {
    ...own,
    axis: { labelFontSize: 12, titleFontSize: 12, ...own.axis },
    legend: { labelFontSize: 12, titleFontSize: 12, ...own.legend },
    header: { labelFontSize: 12, titleFontSize: 12, ...own.header },
    title: { fontSize: 13, ...own.title },
  };
  const compiled = vegaLite.compile(
    { ...spec, config } as unknown as vegaLite.TopLevelSpec,
  );
  const view = new vega.View(vega.parse(compiled.spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/**
 * Legend settings for line figures: whole labels (no truncation) and line
 * swatches at full opacity, whatever bands are layered under the lines.
 */
const LINE_LEGEND = {
  labelLimit: 0,
  labelFontSize: 12,
  titleFontSize: 12,
  symbolType: "stroke",
  symbolStrokeWidth: 3,
  symbolOpacity: 1,
};

/** One point of an ROC curve. */
export interface RocPoint {
  /** False positive rate. */
  fpr: number;
  /** True positive rate. */
  tpr: number;
}

/**
 * The empirical ROC curve: one point per distinct threshold, from (0, 0) to
 * (1, 1); tied scores move diagonally, as the Mann-Whitney AUC counts them.
 *
 * @example
 * ```ts
 * rocCurve([0, 1], [0.2, 0.8]); // [{fpr:0,tpr:0},{fpr:0,tpr:1},{fpr:1,tpr:1}]
 * ```
 */
export function rocCurve(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): RocPoint[] {
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new StatsError(
        `ROC curve undefined: score ${i} is ${
          scores[i]
        } (all scores must be finite numbers)`,
      );
    }
  }
  const idx = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) =>
    scores[b] - scores[a]
  );
  let p = 0, q = 0;
  for (let i = 0; i < labels.length; i++) labels[i] === 1 ? p++ : q++;
  if (p === 0 || q === 0) {
    throw new StatsError(
      `ROC curve undefined: all ${labels.length} labels are ${
        p === 0 ? 0 : 1
      } (need both classes)`,
    );
  }
  const pts: RocPoint[] = [{ fpr: 0, tpr: 0 }];
  let tp = 0, fp = 0;
  for (let k = 0; k < idx.length; k++) {
    labels[idx[k]] === 1 ? tp++ : fp++;
    if (k + 1 === idx.length || scores[idx[k + 1]] !== scores[idx[k]]) {
      pts.push({ fpr: fp / q, tpr: tp / p });
    }
  }
  return pts;
}

const AXIS01 = { scale: { domain: [0, 1] } };

/**
 * ROC curves of several methods on one cohort, with the chance diagonal.
 *
 * @example
 * ```ts
 * const svg = await rocFigure([{ method: "jepa", auc: 0.8, points: rocCurve(y, s) }], "internal");
 * ```
 */
export function rocFigure(
  curves: { method: string; auc: number; points: RocPoint[] }[],
  title: string,
): Promise<string> {
  const values = curves.flatMap((c) =>
    c.points.map((pt, order) => ({
      method: `${c.method} (AUC ${c.auc.toFixed(3)})`,
      order,
      ...pt,
    }))
  );
  return renderSvg({
    title,
    width: 320,
    height: 320,
    config: { legend: LINE_LEGEND },
    layer: [
      {
        data: { values: [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }] },
        mark: { type: "line", strokeDash: [4, 4], color: "#999" },
        encoding: {
          x: { field: "fpr", type: "quantitative" },
          y: { field: "tpr", type: "quantitative" },
        },
      },
      {
        data: { values },
        mark: { type: "line", interpolate: "linear" },
        encoding: {
          x: {
            field: "fpr",
            type: "quantitative",
            title: "1 - specificity",
            ...AXIS01,
          },
          y: {
            field: "tpr",
            type: "quantitative",
            title: "sensitivity",
            ...AXIS01,
          },
          color: { field: "method", type: "nominal", title: "method" },
          order: { field: "order", type: "quantitative" },
        },
      },
    ],
  });
}

/** One AUC with its CI, for interval plots. */
export interface AucInterval {
  /** Method name. */
  method: string;
  /** Cohort name. */
  cohort: string;
  /** AUC. */
  auc: number;
  /** Lower CI bound. */
  lo: number;
  /** Upper CI bound. */
  hi: number;
}

/**
 * AUC with CI per method, one colour per cohort (internal vs external).
 *
 * @example
 * ```ts
 * const svg = await internalVsExternalFigure([{ method: "jepa", cohort: "internal", auc: 0.8, lo: 0.7, hi: 0.9 }], "paper");
 * ```
 */
export function internalVsExternalFigure(
  points: AucInterval[],
  title: string,
): Promise<string> {
  const enc = {
    y: { field: "method", type: "nominal", title: null },
    yOffset: { field: "cohort", type: "nominal" },
    color: { field: "cohort", type: "nominal", title: "cohort" },
  };
  return renderSvg({
    title,
    width: 360,
    data: { values: points },
    layer: [
      {
        mark: { type: "rule" },
        encoding: {
          ...enc,
          x: {
            field: "lo",
            type: "quantitative",
            title: "AUC (95% CI, DeLong)",
            scale: { zero: false },
          },
          x2: { field: "hi" },
        },
      },
      {
        mark: { type: "point", filled: true },
        encoding: { ...enc, x: { field: "auc", type: "quantitative" } },
      },
    ],
  });
}

/** One method's mean AUC at one knob value with its band. */
export interface SweepPoint {
  /** Method name. */
  method: string;
  /** Knob value. */
  value: number;
  /** Mean AUC over seeds. */
  mean: number;
  /** Band lower edge. */
  lo: number;
  /** Band upper edge. */
  hi: number;
}

/**
 * Mean AUC against a swept knob, one line per method with a band, and the
 * Bayes ceiling as a dashed black line.
 *
 * @example
 * ```ts
 * const svg = await sweepFigure(points, [{ value: 0.5, auc: 0.93 }], "crossModalCorrelation", "internal");
 * ```
 */
export function sweepFigure(
  points: SweepPoint[],
  ceiling: { value: number; auc: number }[],
  knob: string,
  title: string,
): Promise<string> {
  const x = { field: "value", type: "quantitative", title: knob };
  const layer: Record<string, unknown>[] = [
    {
      data: { values: points },
      mark: { type: "area", opacity: 0.2 },
      encoding: {
        x,
        y: {
          field: "lo",
          type: "quantitative",
          title: "AUC",
          scale: { zero: false },
        },
        y2: { field: "hi" },
        color: { field: "method", type: "nominal" },
      },
    },
    {
      data: { values: points },
      mark: { type: "line", point: true },
      encoding: {
        x,
        y: { field: "mean", type: "quantitative" },
        color: { field: "method", type: "nominal", title: "method" },
      },
    },
  ];
  if (ceiling.length > 0) {
    layer.push({
      data: { values: ceiling },
      mark: { type: "line", strokeDash: [6, 4], color: "black" },
      encoding: { x, y: { field: "auc", type: "quantitative" } },
    });
  }
  return renderSvg({
    title,
    width: 380,
    height: 260,
    layer,
    config: { legend: LINE_LEGEND },
  });
}

/** Loss per logged step of one run phase. */
export interface CurveSeries {
  /** Method name. */
  method: string;
  /** Run seed. */
  seed: number;
  /** "pretrain" or "finetune". */
  phase: string;
  /** Loss per logged step. */
  losses: number[];
}

/**
 * Training curves: loss per logged step, one panel per phase, one line per
 * method and seed.
 *
 * @example
 * ```ts
 * const svg = await curvesFigure([{ method: "jepa", seed: 1, phase: "pretrain", losses: [1, 0.5] }], "paper");
 * ```
 */
export function curvesFigure(
  series: CurveSeries[],
  title: string,
): Promise<string> {
  const values = series.flatMap((s) =>
    s.losses.map((loss, step) => ({
      phase: s.phase,
      run: `${s.method} / seed ${s.seed}`,
      method: s.method,
      step,
      loss,
    }))
  );
  return renderSvg({
    title,
    data: { values },
    facet: { column: { field: "phase", type: "nominal", title: null } },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 260,
      height: 200,
      mark: { type: "line" },
      encoding: {
        x: { field: "step", type: "quantitative", title: "logged step" },
        y: {
          field: "loss",
          type: "quantitative",
          title: "loss",
          scale: { zero: false },
        },
        color: { field: "method", type: "nominal" },
        detail: { field: "run", type: "nominal" },
      },
    },
  });
}

/** One method's reliability bins. */
export interface ReliabilitySeries {
  /** Method name. */
  method: string;
  /** Mean predicted probability and observed positive fraction per non-empty bin. */
  bins: { meanScore: number; fracPositive: number; n: number }[];
}

/**
 * Reliability diagram: observed fraction of positives against the mean
 * predicted probability per bin, one line per method, with the diagonal of
 * perfect calibration; point size is the bin's patient count.
 *
 * @example
 * ```ts
 * const svg = await reliabilityFigure([{ method: "jepa", bins: [{ meanScore: 0.2, fracPositive: 0.25, n: 40 }] }], "external");
 * ```
 */
export function reliabilityFigure(
  series: ReliabilitySeries[],
  title: string,
): Promise<string> {
  const values = series.flatMap((s) =>
    s.bins.map((b) => ({ ...b, method: s.method }))
  );
  const x = {
    field: "meanScore",
    type: "quantitative",
    title: "mean predicted probability",
    ...AXIS01,
  };
  return renderSvg({
    title,
    width: 320,
    height: 320,
    config: { legend: LINE_LEGEND },
    layer: [
      {
        data: {
          values: [{ meanScore: 0, fracPositive: 0 }, {
            meanScore: 1,
            fracPositive: 1,
          }],
        },
        mark: { type: "line", strokeDash: [4, 4], color: "#999" },
        encoding: { x, y: { field: "fracPositive", type: "quantitative" } },
      },
      {
        data: { values },
        mark: { type: "line", point: true },
        encoding: {
          x,
          y: {
            field: "fracPositive",
            type: "quantitative",
            title: "observed fraction malignant",
            ...AXIS01,
          },
          color: { field: "method", type: "nominal", title: "method" },
        },
      },
    ],
  });
}
