// Security floors of the socket stack. `npm audit` cannot be relied on in every environment (the
// registry's audit endpoint may be unreachable), so CI checks the floors itself: every copy of
// engine.io, socket.io-parser and ws in the lockfile and in node_modules must be at or above the
// version that fixed the newest denial-of-service advisory we know of. A lockfile regression (an
// older copy pulled in by a new dependency, a hand-edited lock) fails here.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Package → lowest acceptable version, and the advisories that version fixes (newest first). */
const FLOORS: Record<string, { floor: string; advisories: string }> = {
  "engine.io": {
    floor: "6.6.9",
    advisories:
      "GHSA-r635-g3xr-vw7x (polling connection exhaustion) and GHSA-gr94-w7qr-f4j3 (WebTransport sid DoS), 6.6.9; " +
      "CVE-2026-59725 (invalid binary POST), 6.6.7; CVE-2023-31125, 6.4.2; CVE-2022-41940, 6.2.1; CVE-2022-21676, 6.1.1",
  },
  "socket.io-parser": {
    floor: "4.2.7",
    advisories:
      "CVE-2026-69185 (memory exhaustion from crafted packets), 4.2.7; CVE-2026-33151 / GHSA-677m-j7p3-52f9 " +
      "(unbounded binary attachments), 4.2.6; CVE-2023-32695, 4.2.3; CVE-2022-2421, 4.2.1",
  },
  ws: {
    floor: "8.21.0",
    advisories:
      "CVE-2026-48779 / GHSA-96hv-2xvq-fx4p (memory exhaustion from tiny fragments), 8.21.0; " +
      "CVE-2026-45736 / GHSA-58qx-3vcg-4xpx (uninitialised memory disclosure), 8.20.1; CVE-2024-37890 (many headers), 8.17.1",
  },
};

/** Numeric x.y.z comparison; a pre-release sorts below its release, as in semver. */
function compare(a: string, b: string): number {
  const parse = (v: string) => {
    const [main, pre] = v.split("-", 2);
    return { nums: main.split(".").map((n) => Number(n)), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.pre && !y.pre) return -1;
  if (!x.pre && y.pre) return 1;
  return 0;
}

/** Every installed copy of `name` under node_modules (hoisted and nested), as [path, version]. */
function installedCopies(name: string): [string, string][] {
  const found: [string, string][] = [];
  const walk = (dir: string, depth: number) => {
    const nm = path.join(dir, "node_modules");
    if (depth > 8 || !fs.existsSync(nm)) return;
    for (const entry of fs.readdirSync(nm)) {
      if (entry.startsWith(".")) continue;
      const dirs = entry.startsWith("@") ? fs.readdirSync(path.join(nm, entry)).map((s) => path.join(entry, s)) : [entry];
      for (const pkgName of dirs) {
        const pkgDir = path.join(nm, pkgName);
        const manifest = path.join(pkgDir, "package.json");
        if (pkgName === name && fs.existsSync(manifest)) {
          found.push([path.relative(ROOT, pkgDir), JSON.parse(fs.readFileSync(manifest, "utf8")).version]);
        }
        walk(pkgDir, depth + 1);
      }
    }
  };
  walk(ROOT, 0);
  return found;
}

describe("dependency security floors", () => {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    overrides?: Record<string, string>;
  };

  for (const [name, { floor, advisories }] of Object.entries(FLOORS)) {
    it(`${name} >= ${floor} everywhere in package-lock.json (${advisories})`, () => {
      const entries = Object.entries(lock.packages).filter(([p]) => p === `node_modules/${name}` || p.endsWith(`/node_modules/${name}`));
      expect(entries.length, `${name} is in the lockfile`).toBeGreaterThan(0);
      const below = entries.filter(([, v]) => !v.version || compare(v.version, floor) < 0).map(([p, v]) => `${p}@${v.version}`);
      expect(below, `copies of ${name} below ${floor}`).toEqual([]);
    });

    it(`${name} >= ${floor} for every installed copy`, () => {
      const copies = installedCopies(name);
      expect(copies.length, `${name} is installed`).toBeGreaterThan(0);
      const below = copies.filter(([, v]) => compare(v, floor) < 0).map(([p, v]) => `${p}@${v}`);
      expect(below, `installed copies of ${name} below ${floor}`).toEqual([]);
    });

    it(`package.json overrides keep ${name} on a fixed range`, () => {
      // The override is what makes `npm install` on a clean clone respect the floor even when a
      // dependency asks for an older range; "$ws" means "the root's own ws range".
      expect(manifest.overrides?.[name], `overrides.${name}`).toBeDefined();
    });
  }

  it("the version comparison orders releases and pre-releases", () => {
    expect(compare("6.6.13", "6.6.9")).toBe(1);
    expect(compare("4.2.7", "4.2.7")).toBe(0);
    expect(compare("8.20.1", "8.21.0")).toBe(-1);
    expect(compare("8.21.0-rc.1", "8.21.0")).toBe(-1);
  });
});
