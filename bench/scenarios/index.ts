import type { Scenario } from "../lib/context.js";
import { connections } from "./connections.js";
import { messages } from "./messages.js";
import { joins } from "./joins.js";
import { restart } from "./restart.js";
import { fanout } from "./fanout.js";
import { typing } from "./typing.js";
import { sql } from "./sql.js";
import { broadcast } from "./broadcast.js";

export const scenarios: Scenario[] = [connections, messages, joins, restart, typing, sql, broadcast, fanout];
