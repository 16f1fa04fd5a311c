import type { Scenario } from "../lib/context.js";
export const restart: Scenario = { name: "restart", title: "todo", optional: true, async run() { return { markdown: "", data: {} }; } };
