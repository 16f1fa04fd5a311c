// The base of every command: configuration, tables, and one-line failures on stderr.
import { Command, Errors } from "@oclif/core";
import type { Config as RealtimeConfig } from "../../lib/config.js";
import { describeError } from "./errors.js";
import { debugEnabled, loadSettings } from "./settings.js";
import { formatTable, type Column } from "./table.js";

export abstract class RealtimeCommand extends Command {
  private loadedSettings: Readonly<RealtimeConfig> | undefined;

  /** The realtime configuration (.env + environment); a bad value fails with one line. */
  protected get settings(): Readonly<RealtimeConfig> {
    this.loadedSettings ??= loadSettings();
    return this.loadedSettings;
  }

  /** Prints rows as an aligned table, or `empty` when there are none (nothing in --json mode). */
  protected table<T>(rows: readonly T[], columns: readonly Column<T>[], empty: string): void {
    this.log(rows.length === 0 ? empty : formatTable(rows, columns));
  }

  /** One clear line on stderr and a non-zero exit; the stack only with LOG_LEVEL=debug. */
  protected async catch(err: Error & { exitCode?: number }): Promise<never> {
    if (err instanceof Errors.ExitError) throw err;
    const { message, exitCode } = describeError(err);
    process.stderr.write(`Error: ${message}\n`);
    if (debugEnabled()) {
      for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
        const stack = (e as Error).stack ?? String(e);
        process.stderr.write(`${depth ? "Caused by: " : ""}${stack}\n`);
      }
    }
    throw new Errors.ExitError(exitCode);
  }
}
