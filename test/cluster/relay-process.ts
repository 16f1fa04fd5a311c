// A relay in its own process, configured by the environment, for the multi-relay tests.
import { runServer } from "../../relay/main.js";

await runServer({ installSignalHandlers: true });
