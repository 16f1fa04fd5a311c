// The documentation against the code: docs/protocol.md documents exactly the events of the
// protocol module (protocol/events.ts) and every error code; docs/configuration.md lists every
// variable the configuration (lib/config.ts) reads; every relative link in README.md, docs/ and
// bench/README.md points at a file that exists and, for a #fragment, a heading in it.
// Needs no database or Redis: it reads files only.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../protocol/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** The markdown without fenced code blocks (links and headings in code are not links or headings). */
function prose(markdown: string): string {
  return markdown.replace(/^[ \t]*(```|~~~)[^\n]*\n[\s\S]*?^[ \t]*\1[^\n]*$/gm, "");
}

/** The keys of `export interface <name> { ... }` in a TypeScript source: `"room:join": ...`, `ping: ...`. */
function interfaceKeys(source: string, name: string): string[] {
  const start = source.search(new RegExp(`export\\s+interface\\s+${name}\\b[^{]*\\{`));
  if (start < 0) throw new Error(`protocol/events.ts has no interface ${name}`);
  let depth = 0;
  let body = "";
  for (let i = source.indexOf("{", start); i < source.length; i++) {
    const ch = source[i];
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (depth === 0) {
      body = source.slice(source.indexOf("{", start) + 1, i);
      break;
    }
  }
  const keys: string[] = [];
  // Only keys at the interface's own level: one line each, `name:` or `"name":` (or `name?:`).
  for (const line of body.split("\n")) {
    const m = /^\s{2}(?:"([^"]+)"|'([^']+)'|([A-Za-z_$][\w$]*))\??\s*:/.exec(line);
    if (m) keys.push(m[1] ?? m[2] ?? m[3]);
  }
  return keys;
}

/** Event names in the first column of the table that follows `## <heading>` in docs/protocol.md. */
function documentedEvents(markdown: string, heading: string): string[] {
  const text = prose(markdown);
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/protocol.md has no section "## ${heading}"`);
  const end = text.indexOf("\n## ", start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const names: string[] = [];
  for (const line of section.split("\n")) {
    if (!line.startsWith("|") || /^\|\s*-/.test(line)) continue;
    const first = line.split("|")[1] ?? "";
    // Header rows and the "any name" row have no backticked names.
    for (const m of first.matchAll(/`([^`]+)`/g)) names.push(m[1]);
  }
  return names;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown).split("\n")) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function markdownFiles(): string[] {
  const docs = fs.existsSync(path.join(ROOT, "docs"))
    ? fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)
    : [];
  return ["README.md", "bench/README.md", ...docs];
}

describe("docs/protocol.md against the protocol module", () => {
  const doc = read("docs/protocol.md");
  const events = read("protocol/events.ts");

  for (const [iface, heading] of [
    ["ClientToServerEvents", "Client to server events"],
    ["ServerToClientEvents", "Server to client events"],
  ] as const) {
    it(`documents every event of ${iface}, and no other`, () => {
      const defined = interfaceKeys(events, iface);
      expect(defined.length).toBeGreaterThan(0);
      const documented = documentedEvents(doc, heading);
      expect(defined.filter((e) => !documented.includes(e)), `in protocol/events.ts ${iface}, missing from docs/protocol.md "${heading}"`).toEqual([]);
      expect(documented.filter((e) => !defined.includes(e)), `documented in docs/protocol.md "${heading}", absent from protocol/events.ts ${iface}`).toEqual([]);
    });
  }

  it("documents every error code", () => {
    expect(ERROR_CODES.length).toBeGreaterThan(0);
    expect(ERROR_CODES.filter((code) => !doc.includes(`\`${code}\``))).toEqual([]);
  });
});

describe("docs/configuration.md against lib/config.ts", () => {
  it("lists every REALTIME_*, LOG_* and DATABASE_URL variable the configuration reads", () => {
    const source = read("lib/config.ts");
    const doc = read("docs/configuration.md");
    const variables = [...new Set([...source.matchAll(/\b(REALTIME_[A-Z0-9_]+|LOG_[A-Z0-9_]+|DATABASE_URL)\b/g)].map((m) => m[1]))];
    expect(variables.length).toBeGreaterThan(40);
    expect(variables.filter((v) => !new RegExp(`\`${v}\``).test(doc))).toEqual([]);
  });
});

describe("relative links", () => {
  for (const file of markdownFiles()) {
    it(`resolve in ${file}`, () => {
      const text = prose(read(file));
      const broken: string[] = [];
      for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const [p, fragment] = target.split("#", 2);
        const resolved = p === "" ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), decodeURI(p));
        if (!fs.existsSync(resolved)) {
          broken.push(`${target}: no such file`);
          continue;
        }
        if (fragment !== undefined && resolved.endsWith(".md") && !anchors(fs.readFileSync(resolved, "utf8")).has(fragment)) {
          broken.push(`${target}: no heading with that anchor`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});
