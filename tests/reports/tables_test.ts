import assert from "node:assert/strict";
import { tableCsv, tableLatex } from "../../reports/tables.ts";

const rows = [
  ["method", "AUC mean [95% t CI]", "note"],
  ["jepa+contrastive", "0.886 [0.845, 0.927]", 'a "quoted", comma'],
  ["logreg_both", "0.893 +- 0.006", "50% & $x$"],
];

Deno.test("CSV quotes commas and quotes (RFC 4180)", () => {
  assert.equal(
    tableCsv(rows),
    'method,AUC mean [95% t CI],note\njepa+contrastive,"0.886 [0.845, 0.927]","a ""quoted"", comma"\nlogreg_both,0.893 +- 0.006,50% & $x$\n',
  );
});

Deno.test("LaTeX tabular: booktabs rules, escaped specials, +- as pm", () => {
  const t = tableLatex(rows);
  const lines = t.trim().split("\n");
  assert.equal(lines[0], "\\begin{tabular}{lrr}");
  assert.deepEqual(
    [lines[1], lines[3], lines[6], lines[7]],
    ["\\toprule", "\\midrule", "\\bottomrule", "\\end{tabular}"],
  );
  assert.equal(lines[2], "method & AUC mean [95\\% t CI] & note \\\\");
  assert.equal(
    lines[5],
    "logreg\\_both & 0.893 $\\pm$ 0.006 & 50\\% \\& \\$x\\$ \\\\",
  );
});
