import assert from "node:assert/strict";
import { formatDuration, Progress } from "../../core/progress.ts";

Deno.test("durations format as h/m/s", () => {
  assert.equal(formatDuration(5), "5s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(NaN), "?");
});

Deno.test("plain mode prints periodic lines with count and ETA", () => {
  const lines: string[] = [];
  const p = new Progress("study", 4, {
    write: (l) => lines.push(l),
    intervalSeconds: 0,
  });
  for (let i = 0; i < 4; i++) p.tick(1, `run ${i}`);
  p.done();
  assert.equal(lines.length, 4);
  assert.match(
    lines[0],
    /^study: 1\/4 \(25%\), elapsed \d+s, ETA \d+s \| run 0$/,
  );
  assert.match(lines[3], /4\/4 \(100%\)/);
});

Deno.test("quiet mode prints nothing", () => {
  const lines: string[] = [];
  const p = new Progress("x", 2, { quiet: true, write: (l) => lines.push(l) });
  p.tick();
  p.tick();
  assert.deepEqual(lines, []);
});
