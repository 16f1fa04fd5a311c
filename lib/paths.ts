// Where the package lives: the folder holding package.json, migrations/ and bin/, found from this
// file (lib/ in source, dist/lib/ when built).
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The package root. */
export const PACKAGE_ROOT = path.basename(path.dirname(here)) === "dist" ? path.resolve(here, "../..") : path.resolve(here, "..");

/** The CLI's entry point (bin/run.js). */
export const BIN_RUN = path.join(PACKAGE_ROOT, "bin", "run.js");
