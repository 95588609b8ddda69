/**
 * Integration test: a real single-node SLURM cluster on localhost (munged,
 * slurmctld, slurmd from Debian's slurmctld/slurmd/slurm-client/munge
 * packages, started by tests/study/slurm/cluster.sh under a fresh temp
 * folder with a slurm.conf it writes), a 2-shard `sim --quick` study
 * submitted with `--slurm --submit`, and the merged report compared with a
 * single-process run of the same study. Every daemon is stopped by pid.
 *
 * Without the SLURM binaries (or without root, which SlurmUser=root needs)
 * the test is reported as ignored, with the reason in its name; `.ci/run`
 * installs the packages so CI runs it.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ResultRow } from "../../core/results.ts";

const here = new URL(".", import.meta.url).pathname;
const cluster = join(here, "slurm", "cluster.sh");
const main = new URL("../../main.ts", import.meta.url).pathname;
const NEEDED = [
  "sbatch",
  "squeue",
  "scontrol",
  "slurmctld",
  "slurmd",
  "munged",
];

function onPath(cmd: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && existsSync(join(dir, cmd))) return true;
  }
  // The daemons live in /usr/sbin, which a non-login PATH may lack.
  return existsSync(join("/usr/sbin", cmd));
}

const missing = NEEDED.filter((c) => !onPath(c));
const isRoot = Deno.uid() === 0;
const why = missing.length > 0
  ? `${
    missing.join(", ")
  } not installed (apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge; .ci/run does)`
  : !isRoot
  ? "not root (the test cluster runs its daemons as SlurmUser=root)"
  : "";
if (why) console.warn(`slurm integration test ignored: ${why}`);

const TERMINAL = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "BOOT_FAIL",
  "DEADLINE",
  "PREEMPTED",
]);

// Two distinct free ports (both listeners open at once, so never the same).
function freePorts(): [number, number] {
  const a = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const b = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ports: [number, number] = [
    (a.addr as Deno.NetAddr).port,
    (b.addr as Deno.NetAddr).port,
  ];
  a.close();
  b.close();
  return ports;
}

function readRows(path: string): ResultRow[] {
  return readFileSync(path, "utf8").trim().split("\n").map((l) =>
    JSON.parse(l)
  );
}

// Lines that may differ between two runs of the same study: timings, dates
// and the commit (and the title line, to be safe).
function numbersOnly(md: string): string {
  return md.split("\n").slice(1).filter((l) =>
    !/wall time|Run started|Git commit|^\| [\w+-]+ \| \d+ \| [\d.]+ \|$/.test(l)
  ).join("\n");
}

Deno.test({
  name: why
    ? `slurm: 2-shard study on a local cluster (ignored: ${why})`
    : "slurm: a 2-shard --quick study as an array job + merge job equals one process",
  ignore: why !== "",
  async fn() {
    const base = await Deno.makeTempDir({ dir: "/tmp", prefix: "slurm" });
    const [ctldPort, slurmdPort] = freePorts();
    const env: Record<string, string> = {
      SLURM_BASE: base,
      SLURM_CONF: join(base, "etc", "slurm.conf"),
      SLURM_CTLD_PORT: String(ctldPort),
      SLURM_SLURMD_PORT: String(slurmdPort),
      PATH: `${Deno.env.get("PATH") ?? ""}:/usr/sbin:/sbin`,
    };
    const dec = new TextDecoder();
    const run = async (cmd: string, args: string[]) => {
      const o = await new Deno.Command(cmd, {
        args,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        ok: o.success,
        out: dec.decode(o.stdout).trim(),
        err: dec.decode(o.stderr).trim(),
      };
    };
    const must = async (cmd: string, args: string[]) => {
      const r = await run(cmd, args);
      assert.ok(r.ok, `${cmd} ${args.join(" ")} failed:\n${r.out}\n${r.err}`);
      return r.out;
    };
    const pids = () =>
      ["munged", "slurmctld", "slurmd"].map((d) => {
        try {
          return Number(readFileSync(join(base, "run", `${d}.pid`), "utf8"));
        } catch {
          return NaN;
        }
      });
    const alive = (pid: number) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return !/\) [ZX] /.test(stat);
      } catch {
        return false;
      }
    };
    const logs = (dir: string) => {
      const out: string[] = [];
      for (const f of ["shard-0.log", "shard-1.log", "merge.log"]) {
        const p = join(dir, "slurm", f);
        if (existsSync(p)) {
          out.push(`--- ${f}\n${readFileSync(p, "utf8").slice(-3000)}`);
        }
      }
      return out.join("\n");
    };
    async function waitJob(id: string, timeoutMs: number): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const out = await must("squeue", [
          "-h",
          "-t",
          "all",
          "-j",
          id,
          "-o",
          "%i %T",
        ]);
        const states = out.split("\n").filter(Boolean).map((l) =>
          l.split(" ")[1]
        );
        if (states.length > 0 && states.every((s) => TERMINAL.has(s))) {
          return states;
        }
        if (Date.now() > deadline) {
          throw new Error(`job ${id} not done: ${out}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    let started: number[] = [];
    try {
      await must(cluster, ["start"]);
      started = pids();
      assert.ok(started.every((p) => alive(p)), `daemons up: ${started}`);
      const out = join(base, "study");
      const study = [
        "sim",
        "--quick",
        "--methods",
        "imaging-only,logreg-both",
        "--workers",
        "1",
      ];
      const submitted = await must(Deno.execPath(), [
        "run",
        "-A",
        main,
        "--seed",
        "42",
        "--quiet",
        "--out",
        out,
        ...study,
        "--slurm",
        "--shards",
        "2",
        "--submit",
      ]);
      const m = /submitted array job (\d+) and merge job (\d+)/.exec(submitted);
      assert.ok(m, `no job ids in: ${submitted}`);
      const [, arrayId, mergeId] = m;
      // The single-process run of the same study, while the cluster works.
      const single = join(base, "single");
      await must(Deno.execPath(), [
        "run",
        "-A",
        main,
        "--seed",
        "42",
        "--quiet",
        "--out",
        single,
        ...study,
      ]);
      const arrayStates = await waitJob(arrayId, 120_000);
      assert.deepEqual(
        arrayStates,
        ["COMPLETED", "COMPLETED"],
        `array tasks: ${arrayStates}\n${logs(out)}`,
      );
      const mergeStates = await waitJob(mergeId, 60_000);
      assert.deepEqual(
        mergeStates,
        ["COMPLETED"],
        `merge: ${mergeStates}\n${logs(out)}`,
      );

      // Each array task ran one shard into its own results file.
      const shardRows = [1, 2].map((i) =>
        readRows(join(out, `shard-${i}-of-2`, "results.jsonl"))
      );
      assert.ok(shardRows.every((r) => r.length > 0), "both shards wrote rows");
      const all = readRows(join(single, "results.jsonl"));
      const merged = shardRows.flat();
      assert.equal(merged.length, all.length);
      const auc = (rows: ResultRow[]) =>
        Object.fromEntries(
          rows.map((r) => [
            r.runId,
            Object.fromEntries(
              Object.entries(r.metrics).map(([c, x]) => [c, x.auc]),
            ),
          ]),
        );
      assert.deepEqual(auc(merged), auc(all));
      // The merge job's report is the one `task report` writes from the
      // single run's results, line by line (timings aside). The single
      // run's own report.md adds notes about its study config, so the
      // renderer is held equal here; its numbers are checked below.
      await must(Deno.execPath(), [
        "run",
        "-A",
        main,
        "--out",
        join(single, "rendered"),
        "report",
        join(single, "results.jsonl"),
      ]);
      const report = readFileSync(join(out, "report.md"), "utf8");
      assert.match(report, /imaging-only/);
      assert.equal(
        numbersOnly(report),
        numbersOnly(
          readFileSync(join(single, "rendered", "report.md"), "utf8"),
        ),
      );
      // And every results table (CSV) is the single run's own, byte for byte.
      const csvs = [...Deno.readDirSync(join(single, "tables"))]
        .map((e) => e.name).filter((n) => n.endsWith(".csv")).sort();
      assert.ok(csvs.length > 0, "the single run wrote tables/*.csv");
      for (const f of csvs) {
        assert.equal(
          readFileSync(join(out, "tables", f), "utf8"),
          readFileSync(join(single, "tables", f), "utf8"),
          f,
        );
      }
    } finally {
      const stop = await run(cluster, ["stop"]);
      const left = started.filter((p) => alive(p));
      if (!stop.ok || left.length > 0) {
        console.error(`cluster.sh stop: ${stop.out}\n${stop.err}`);
      }
      assert.deepEqual(left, [], "every daemon the test started is stopped");
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
  },
});
