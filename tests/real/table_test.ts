import assert from "node:assert/strict";
import { join } from "node:path";
import { numericCell, parseDate, readTable } from "../../real/table.ts";

const dir = Deno.makeTempDirSync();
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(dir, { recursive: true }),
);
const file = (name: string, text: string) => {
  const f = join(dir, name);
  Deno.writeTextFileSync(f, text);
  return f;
};

Deno.test("BOM, CRLF, semicolons and tabs are read alike", () => {
  const variants = [
    '\ufeffid,v\r\np1,1\r\np2,"2,5"\r\n',
    'id;v\np1;1\np2;"2,5"\n',
    "id\tv\np1\t1\np2\t2,5\n",
  ];
  for (const [i, text] of variants.entries()) {
    const t = readTable(file(`v${i}.csv`, text), ["id", "v"]);
    assert.deepEqual(t.header, ["id", "v"]);
    assert.deepEqual(t.rows.map((r) => [r.row, r.get("id"), r.get("v")]), [
      [2, "p1", "1"],
      [3, "p2", "2,5"],
    ]);
  }
});

Deno.test("row numbers are file lines, blank lines included", () => {
  const t = readTable(file("blank.csv", "id,v\n\np1,1\n\np2,2\n"), ["id"]);
  assert.deepEqual(t.rows.map((r) => r.row), [3, 5]);
});

Deno.test("strict: duplicate or empty names, ragged rows, unclosed quotes", () => {
  const cases: [string, RegExp][] = [
    [
      "id,v,id\n1,2,3\n",
      /line 1: column name "id" appears twice \(columns 1 and 3\)/,
    ],
    ["id,,v\n1,2,3\n", /line 1: column 2 of the header is empty/],
    [
      "id,v\n1,2\n3\n4,5\n",
      /line 3: invalid CSV \(expect 2, got 1 on line 3\)/,
    ],
    [
      'id,v\n1,2\n"3,4\n5,6\n',
      /line 3: a quoted field opens here and is never closed/,
    ],
    ["", /empty file; expected a header row/],
  ];
  for (const [i, [text, re]] of cases.entries()) {
    assert.throws(() => readTable(file(`bad${i}.csv`, text), ["id"]), re);
  }
  // A stray quote inside a field is named, not mistaken for an opening.
  assert.throws(
    () => readTable(file("inner.csv", 'id,v\np1,5"\n'), ["id"]),
    /line 2: invalid CSV \(.*\); expected RFC 4180 CSV/,
  );
});

Deno.test("numeric cells: finite and float32-safe only", () => {
  assert.equal(numericCell("3.5"), 3.5);
  assert.equal(numericCell("-1e12"), -1e12);
  for (const s of ["", " ", "1e39", "1e13", "NaN", "Infinity", "3mg"]) {
    assert.equal(numericCell(s), null, s);
  }
});

Deno.test("parseDate reads ISO 8601 dates, times and offsets as instants", () => {
  const day = Date.UTC(2020, 2, 1);
  const h = 3_600_000;
  const cases: [string, number | null][] = [
    ["2020-03-01", day],
    ["20200301", day],
    [" 2020-03-01 ", day],
    ["2020-03-01T00:00:00Z", day],
    ["2020-03-01T00:00:00.250Z", day + 250],
    ["2020-03-01 14:30", day + 14.5 * h],
    ["2020-03-01T14:30:15", day + 14.5 * h + 15_000],
    ["2020-03-01T01:00:00+01:00", day],
    ["2020-03-01T01:00+0100", day],
    ["2020-02-29T19:00:00-05:00", day],
    ["2020-03-01T05:30:00+05:30", day],
    ["20200301T0100+01", day],
    ["2020-03-01t00:00z", day],
    ["2020-02-30", null],
    ["2021-02-29", null],
    ["2020-13-01", null],
    ["2020-03-01T24:00", null],
    ["2020-03-01T10:60", null],
    ["2020-03-01T10:00+15:00", null],
    ["2020-03-01T10:00+01:75", null],
    ["2020-03-01Z", null],
    ["2020-03-01T", null],
    ["03/01/2020", null],
    ["yesterday", null],
    ["", null],
  ];
  for (const [s, want] of cases) assert.equal(parseDate(s), want, s);
});
