// The real local stack for the browser tests, on free loopback ports: moto (through the
// project's launcher, with Step Functions executing), and `devstack serve` (the API router,
// the lifecycle workflows with the stand-in Jenkins, the demo seed, and the built portal at
// `/`). Stopped by `stop()`, which the tests call whatever happens.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEVSTACK = join(process.env.CARGO_TARGET_DIR ?? join(REPO, "target"), "debug", "devstack");
const PYTHON = join(REPO, ".tools/venv/bin/python");

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, deadlineMs, check) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * `memory: true` (what STACK=memory asks for): `devstack serve --memory` alone, the API over the
 * in-memory store with no workflow running, to measure the board against a large fleet.
 */
export async function startStack({ memory = process.env.STACK === "memory" } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "portal-browser-"));
  const [motoPort, invokePort, jenkinsPort, apiPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const base = {
    ...process.env,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
  };
  const motoLog = join(dir, "moto.log");
  const moto = memory ? null : spawn(PYTHON, [join(REPO, "tests/stack/moto_launcher.py"), "--host", "127.0.0.1", "--port", String(motoPort)], {
    env: { ...base, LAMBDA_INVOKE_ENDPOINT: `http://127.0.0.1:${invokePort}` },
    stdio: ["ignore", openSync(motoLog, "a"), openSync(motoLog, "a")],
  });
  const children = moto ? [moto] : [];
  const stop = async () => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill("SIGTERM");
      const gone = await Promise.race([new Promise((r) => c.once("exit", () => r(true))), sleep(4000).then(() => false)]);
      if (!gone) c.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (moto)
      await until("moto", 60_000, () => {
      if (moto.exitCode !== null) throw new Error(`moto ended: ${readFileSync(motoLog, "utf8")}`);
      return /^moto ready/m.test(readFileSync(motoLog, "utf8"));
    });
    const serverLog = join(dir, "devstack.log");
    const env = {
      ...base,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${motoPort}`,
      PORT: String(apiPort),
      INVOKE_PORT: String(invokePort),
      JENKINS_PORT: String(jenkinsPort),
      PORTAL_DEV_DIR: dir,
      PORTAL_WEB_DIR: join(REPO, "web/dist"),
      RUST_LOG: process.env.RUST_LOG ?? "warn",
      DEMO_TENANTS: process.env.DEMO_TENANTS ?? "",
    };
    const server = spawn(DEVSTACK, memory ? ["serve", "--memory"] : ["serve"], { cwd: REPO, env, stdio: ["ignore", openSync(serverLog, "a"), openSync(serverLog, "a")] });
    children.push(server);
    const url = `http://127.0.0.1:${apiPort}`;
    await until("the API", Number(process.env.STACK_START_TIMEOUT_S ?? 600) * 1000, async () => {
      if (server.exitCode !== null) throw new Error(`devstack ended: ${readFileSync(serverLog, "utf8").slice(-4000)}`);
      try {
        return (await fetch(`${url}/v1/health`)).ok;
      } catch {
        return false;
      }
    });
    const token = (role, sub) =>
      execFileSync(DEVSTACK, ["token", "--role", role, "--sub", sub], { env: { ...env, RUST_LOG: "error" } }).toString().trim();
    const jenkins = memory ? null : readFileSync(join(dir, "jenkins-url"), "utf8").trim();
    // The event admin endpoint (`make schedule`'s): read when asked, moto's stack only.
    const events = () => (memory ? null : readFileSync(join(dir, "events-url"), "utf8").trim());
    return { url, token, jenkins, events, stop, log: () => readFileSync(serverLog, "utf8") };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A call of the public API, as the tests' own check of what the page shows. */
export async function call(url, token, method, path, body) {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
