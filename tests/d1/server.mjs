// Starts worker.mjs in Miniflare (a real local D1, no network) on 127.0.0.1
// and prints `port=<n>` on stdout when ready. Stops (and stops workerd) when
// stdin closes or on SIGTERM/SIGINT, so it never outlives the test that
// started it.
//   D1_TEST_TOKEN     the API token the worker accepts (required)
//   D1_TEST_ACCOUNT   account id in the URL (default "test-account")
//   D1_TEST_DATABASE  database id in the URL (default "test-db")
//   D1_TEST_PORT      port (default 0: any free port)
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const token = process.env.D1_TEST_TOKEN;
if (!token) {
  console.error("server.mjs: set D1_TEST_TOKEN");
  process.exit(2);
}

const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(here, "worker.mjs"),
  d1Databases: { DB: "atom-mirror-test" },
  bindings: {
    TOKEN: token,
    ACCOUNT: process.env.D1_TEST_ACCOUNT ?? "test-account",
    DATABASE: process.env.D1_TEST_DATABASE ?? "test-db",
  },
  host: "127.0.0.1",
  port: Number(process.env.D1_TEST_PORT ?? 0),
  cf: false,
  verbose: false,
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));
process.stdin.on("end", () => stop(0));
process.stdin.on("close", () => stop(0));
process.stdin.resume();

try {
  const url = await mf.ready;
  process.stdout.write(`port=${url.port}\n`);
} catch (e) {
  console.error(`server.mjs: ${e.stack ?? e}`);
  await stop(1);
}
