/**
 * Table exports a paper can take as they are: CSV, and LaTeX `tabular`
 * with booktabs rules. A table is rows of cells, the first row the header.
 *
 * @module
 */
import { stringify } from "csv-stringify/sync";

/**
 * A table as CSV (RFC 4180 quoting).
 *
 * @example
 * ```ts
 * tableCsv([["method", "AUC"], ["jepa", "0.865"]]); // "method,AUC\njepa,0.865\n"
 * ```
 */
export function tableCsv(rows: string[][]): string {
  return stringify(rows);
}

const TEX_SPECIAL: Record<string, string> = {
  "\\": "\\textbackslash{}",
  "&": "\\&",
  "%": "\\%",
  "$": "\\$",
  "#": "\\#",
  "_": "\\_",
  "{": "\\{",
  "}": "\\}",
  "~": "\\textasciitilde{}",
  "^": "\\textasciicircum{}",
};

/** Escapes LaTeX's special characters in one cell. */
function tex(s: string): string {
  return s.replace(/[\\&%$#_{}~^]/g, (c) => TEX_SPECIAL[c]).replace(
    /\+-/g,
    "$\\pm$",
  );
}

/**
 * A table as a LaTeX `tabular` with booktabs rules (`\usepackage{booktabs}`);
 * the first column left-aligned, the others right-aligned.
 *
 * @example
 * ```ts
 * tableLatex([["method", "AUC"], ["jepa", "0.865"]]);
 * ```
 */
export function tableLatex(rows: string[][]): string {
  const [head, ...body] = rows;
  const cols = "l" + "r".repeat(Math.max(0, head.length - 1));
  const line = (r: string[]) => r.map(tex).join(" & ") + " \\\\";
  return [
    `\\begin{tabular}{${cols}}`,
    "\\toprule",
    line(head),
    "\\midrule",
    ...body.map(line),
    "\\bottomrule",
    "\\end{tabular}",
    "",
  ].join("\n");
}
