import assert from "node:assert/strict";
import { renderHtml } from "../../reports/markdown.ts";

Deno.test("the HTML report renders markdown tables and escapes the title", () => {
  const html = renderHtml(
    "# R\n\n| method | AUC |\n|---|---:|\n| jepa | 0.910 |\n\n![roc](figures/roc.svg)\n",
    "A & B",
  );
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<title>A &#38; B<\/title>/);
  assert.match(html, /<th>method<\/th>/);
  assert.match(html, /<td align="right">0\.910<\/td>/);
  assert.match(html, /<img src="figures\/roc\.svg" alt="roc">/);
});
