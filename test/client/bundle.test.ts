// The SDK builds for browsers: one ES module with socket.io-client inside (what `npm run build`
// writes to dist/client/realtime-client.js), using no Node built-in module.
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

describe("browser bundle", () => {
  it("bundles client/index.ts for the browser without Node built-ins, and the module loads", async () => {
    const result = await build({
      entryPoints: ["client/index.ts"],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2020",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile!.inputs);
    expect(inputs.some((i) => i.includes("socket.io-client"))).toBe(true);
    expect(inputs.filter((i) => i.startsWith("relay/") || i.startsWith("lib/"))).toEqual([]);
    const code = result.outputFiles![0].text;
    expect(code).not.toMatch(/from\s*["']node:|require\(["'](fs|net|tls|http|crypto|events)["']\)/);
    const mod = await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
    expect(typeof mod.RealtimeClient).toBe("function");
    const err = new mod.RealtimeError("TIMEOUT", "x");
    expect(err.code).toBe("TIMEOUT");
  });
});
