// Summarises a .cpuprofile (from --cpu-prof, e.g. BENCH_PROFILE=1): self time by function and by
// file, top N. Usage: node --import tsx bench/profile-summary.ts FILE [N]
import fs from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: profile-summary FILE.cpuprofile [N]");
  process.exit(2);
}
const top = Number(topArg ?? 25);
const prof = JSON.parse(fs.readFileSync(file, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fnTime = new Map<string, number>();
const fileTime = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const url = n.callFrame.url.replace(/^file:\/\//, "").replace(/.*node_modules\//, "nm:");
  const key = `${n.callFrame.functionName || "(anonymous)"} ${url}:${n.callFrame.lineNumber + 1}`;
  fnTime.set(key, (fnTime.get(key) ?? 0) + t);
  const f = url.startsWith("nm:") ? url.split("/").slice(0, url.startsWith("nm:@") ? 2 : 1).join("/") : url || n.callFrame.functionName;
  fileTime.set(f, (fileTime.get(f) ?? 0) + t);
}
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
};
show("self time by package/file", fileTime);
show("self time by function", fnTime);
