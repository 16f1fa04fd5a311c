import type { Scenario } from "../lib/context.js";
import { connections } from "./connections.js";
import { fanout } from "./fanout.js";
import { typing } from "./typing.js";
import { sql } from "./sql.js";
import { broadcast } from "./broadcast.js";

export const scenarios: Scenario[] = [connections, fanout, typing, sql, broadcast];
