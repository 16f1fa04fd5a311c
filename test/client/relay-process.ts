// A relay in its own process, configured by the environment (killed with SIGKILL by the SDK tests).
import { runServer } from "../../relay/main.js";

await runServer({ installSignalHandlers: true });
