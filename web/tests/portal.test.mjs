// The web portal in a real browser (Debian's chromium, driven by Playwright) against the real
// local stack: moto with Step Functions executing, the API router, the stand-in Jenkins and the
// demo seed, started here on free ports and stopped after. Screenshots go to
// target/screenshots/; axe-core (vendored from npm) runs on every page.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { REPO, call, startStack } from "./stack.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const SHOTS = join(REPO, "target/screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(SHOTS, { recursive: true });

let stack, browser;
const figures = { stack: process.env.STACK === "memory" ? "devstack serve --memory" : "moto + devstack serve" };

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (make tools does, as root), or set CHROMIUM`);
  stack = await startStack();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  writeFileSync(join(SHOTS, `figures-${figures.fleet_total ?? "unknown"}-tenants${process.env.STACK === "memory" ? "-memory" : ""}.json`), JSON.stringify(figures, null, 2) + "\n");
});

/** A tab signed in as `role` through the sign-in link, counting its API requests. */
async function signedIn(role, sub, path = "/") {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const api = [];
  const cspErrors = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith("/v1/")) api.push(`${r.method()} ${u.pathname}${u.search}`);
    if (u.host !== new URL(stack.url).host) throw new Error(`a request left the origin: ${r.url()}`);
  });
  page.on("console", (m) => /Content Security Policy/i.test(m.text()) && cspErrors.push(m.text()));
  const token = stack.token(role, sub);
  const t0 = Date.now();
  await page.goto(`${stack.url}/#access_token=${token}`);
  assert.ok(!page.url().includes("access_token"), "the token is taken out of the address bar");
  if (path !== "/") await page.goto(`${stack.url}/#${path}`);
  return { page, api, cspErrors, token, t0, close: () => context.close() };
}

async function axe(page, name) {
  await page.evaluate(`${AXE}\n;true`);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `axe on ${name}: no serious violations`,
  );
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function tenantIn(state, token, skip = []) {
  const { body } = await call(stack.url, token, "GET", `/v1/tenants?state=${state}&limit=100`);
  const t = body.items.find((t) => !t.active_change_request_id && !skip.includes(t.id));
  assert.ok(t, `a ${state} tenant that no change request holds`);
  return t;
}

test("the board's counts are the fleet summary's, from a number of requests that does not depend on the fleet", async () => {
  const tab = await signedIn("admin", "alice");
  const { page } = tab;
  const byState = page.getByRole("table", { name: "Tenants by state" });
  await page.getByRole("heading", { name: /^Running now/ }).waitFor();
  figures.board_shown_ms = Date.now() - tab.t0; // sign-in link opened → the whole board on screen
  await page.waitForLoadState("networkidle");
  figures.board_settled_ms = Date.now() - tab.t0; // and no request for 500 ms
  figures.board_requests_first_load = tab.api.length;
  figures.board_requests = [...tab.api];

  const summary = (await call(stack.url, tab.token, "GET", "/v1/fleet/summary")).body;
  figures.fleet_total = summary.total;
  const rows = await byState.locator("tbody tr").evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector("th").textContent.trim(), Number(tr.querySelector("td").textContent)]),
  );
  assert.deepEqual(Object.fromEntries(rows), summary.by_state);
  const releases = await page
    .getByRole("table", { name: "Tenants by release" })
    .locator("tbody tr")
    .evaluateAll((trs) => trs.map((tr) => [tr.querySelector("th").textContent.trim(), Number(tr.querySelector("td").textContent)]));
  assert.deepEqual(Object.fromEntries(releases), summary.by_release);

  // The broken tenants are named first, under "Needs attention".
  const broken = (await call(stack.url, tab.token, "GET", "/v1/tenants?state=Broken&limit=100")).body.items;
  assert.ok(broken.length > 0, "the demo fleet has broken tenants");
  const attention = page.getByRole("list", { name: /Needs attention/ });
  for (const t of broken.slice(0, 20)) await attention.getByRole("link", { name: t.name, exact: true }).first().waitFor();

  // Constant, whatever the fleet: the summary, the broken tenants, the tenants' recent history,
  // and a capped number of change requests and tenant names.
  assert.ok(tab.api.length <= 3 + 2 * 12, `the board made ${tab.api.length} requests: ${tab.api.join(", ")}`);
  assert.equal(tab.api.filter((r) => /^GET \/v1\/tenants\/ten_[^/]+$/.test(r.split("?")[0])).length <= 12, true);

  // Fresh without reloading: an idle board asks one cheap "changed since" query per poll.
  const before = tab.api.length;
  await page.waitForTimeout(9000);
  const polls = tab.api.slice(before);
  figures.board_requests_per_idle_poll = polls;
  assert.ok(polls.length >= 2, `it polled: ${polls.join(", ")}`);
  assert.ok(polls.every((p) => p.startsWith("GET /v1/history?entity=tenant&since=") || p.startsWith("GET /v1/change-requests/")), polls.join(", "));
  assert.deepEqual(tab.cspErrors, []);
  await axe(page, "the board");
  await shot(page, "board");
  await tab.close();
});

test("a tenant page lists the tenant's catalogued backups as the API does", async () => {
  const tab = await signedIn("viewer", "vera");
  const { body } = await call(stack.url, tab.token, "GET", "/v1/tenants?state=Healthy&limit=100");
  let tenant, backups;
  for (const t of body.items) {
    const answer = await call(stack.url, tab.token, "GET", `/v1/tenants/${t.id}/backups`);
    if (answer.body.items.length > 0) {
      [tenant, backups] = [t, answer.body.items];
      break;
    }
  }
  assert.ok(tenant, "the seed backs up some Healthy tenants");
  const { page } = tab;
  await page.goto(`${stack.url}/#/tenants/${tenant.id}`);
  const table = page.getByRole("table", { name: "Backups" });
  await table.waitFor();
  const rows = table.locator("tbody tr");
  assert.equal(await rows.count(), backups.length);
  for (const [i, b] of backups.entries()) {
    const text = await rows.nth(i).innerText();
    assert.ok(text.includes(b.id) && text.includes(b.location) && text.includes(b.release), `${text} shows ${b.id}`);
  }
  // Its metrics: a figure per series the API answers (the demo stack puts no data in CloudWatch,
  // so each says so rather than drawing made-up points).
  const metrics = (await call(stack.url, tab.token, "GET", `/v1/tenants/${tenant.id}/metrics`)).body;
  await page.getByRole("heading", { name: "Metrics" }).waitFor();
  const figures = page.locator("figure.metric");
  await figures.first().waitFor();
  assert.equal(await figures.count(), metrics.series.length);
  for (const [i, s] of metrics.series.entries()) {
    const text = await figures.nth(i).innerText();
    assert.ok(text.includes(s.resource), `${text} names ${s.resource}`);
    if (s.points.length === 0) assert.ok(text.includes("No data in this window."), text);
  }
  await axe(page, "the tenant page with backups and metrics");
  await tab.close();
});

test("an operator requests a validate and watches its steps complete", async () => {
  const tab = await signedIn("operator", "olga");
  const tenant = await tenantIn("Healthy", tab.token);
  const { page } = tab;
  await page.goto(`${stack.url}/#/tenants/${tenant.id}`);
  await page.getByRole("heading", { level: 1, name: new RegExp(tenant.name) }).waitFor();
  // Only what the lifecycle table allows from Healthy: no Resume, no Exit maintenance.
  const ops = page.getByRole("group", { name: "Operations" });
  await ops.getByRole("button", { name: "Validate", exact: true }).waitFor();
  assert.equal(await ops.getByRole("button", { name: "Resume" }).count(), 0);
  assert.equal(await ops.getByRole("button", { name: "Exit maintenance" }).count(), 0);
  await ops.getByRole("button", { name: "Upgrade…" }).waitFor();
  await axe(page, "the tenant page");
  await shot(page, "tenant");

  await ops.getByRole("button", { name: "Validate", exact: true }).click();
  await page.getByRole("button", { name: "Request validate" }).click();
  await page.waitForURL(/#\/change-requests\/chg_/, { waitUntil: "commit" });
  const crId = page.url().split("/").pop();
  // Progress is seen moving without a reload, then every step ends succeeded.
  const seen = new Set();
  const end = Date.now() + 240_000;
  for (;;) {
    const status = await page.getByRole("heading", { level: 1 }).locator(".badge").textContent();
    const progress = await page.locator("progress").first().getAttribute("value").catch(() => null);
    seen.add(`${status}:${progress}`);
    if (status === "succeeded") break;
    assert.ok(!["failed", "cancelled"].includes(status), `the validate ended ${status}`);
    assert.ok(Date.now() < end, `the validate did not finish: seen ${[...seen].join(" ")}`);
    await page.waitForTimeout(500);
  }
  assert.ok([...seen].some((s) => s.startsWith("running")), `it was seen running: ${[...seen].join(" ")}`);
  const cr = (await call(stack.url, tab.token, "GET", `/v1/change-requests/${crId}`)).body;
  assert.equal(cr.status, "succeeded");
  assert.ok(cr.steps.length >= 3, "transition, the health suites, the end");
  const shown = await page.locator(".steps li.step").evaluateAll((lis) => lis.map((li) => li.querySelector(".step-name").textContent));
  assert.deepEqual(shown, cr.steps.map((s) => s.name));
  assert.equal(await page.locator(".steps li.step-succeeded").count(), cr.steps.length);
  assert.ok(await page.getByRole("link", { name: "Jenkins build" }).count() >= 1, "the builds are linked");
  await axe(page, "the change request page");
  await shot(page, "change-request");
  await tab.close();
});

test("a viewer sees no action controls", async () => {
  const tab = await signedIn("viewer", "vic");
  const tenant = await tenantIn("Healthy", tab.token);
  const { page } = tab;
  await page.goto(`${stack.url}/#/tenants/${tenant.id}`);
  await page.getByRole("heading", { name: "History" }).waitFor();
  await page.waitForLoadState("networkidle");
  const buttons = await page.getByRole("button").allTextContents();
  assert.deepEqual(buttons, ["Sign out"], "the only button a viewer has");
  assert.equal(await page.getByRole("heading", { name: "Actions" }).count(), 0);
  await axe(page, "the tenant page of a viewer");
  await shot(page, "tenant-as-viewer");
  const crs = (await call(stack.url, tab.token, "GET", `/v1/tenants/${tenant.id}/change-requests`)).body.items;
  if (crs[0]) {
    await page.goto(`${stack.url}/#/change-requests/${crs[0].id}`);
    await page.getByRole("heading", { name: "Steps" }).waitFor();
    assert.deepEqual(await page.getByRole("button").allTextContents(), ["Sign out"]);
    await shot(page, "change-request-as-viewer");
  }
  await tab.close();
});

test("a 409 is shown as its problem detail next to the form, and an admin aborts with a confirmation", async () => {
  const tab = await signedIn("admin", "alice");
  const tenant = await tenantIn("Healthy", tab.token);
  // Builds hang, so the change request below holds the tenant until it is aborted.
  await fetch(`${stack.jenkins}/__admin/jobs`, { method: "PATCH", headers: { "content-type": "application/json" }, body: '{"outcome":"hang"}' });
  try {
    const { page } = tab;
    await page.getByRole("heading", { name: /^Running now/ }).waitFor();
    const requestsBefore = tab.api.length;
    const held = await call(stack.url, tab.token, "POST", `/v1/tenants/${tenant.id}/change-requests`, { operation: "validate", reason: "browser test" });
    assert.equal(held.status, 202);
    // The board, opened before, shows it running without a reload, with its steps.
    const running = page.getByRole("list", { name: /Running now/ }).getByRole("listitem").filter({ hasText: tenant.name });
    await running.waitFor({ timeout: 20_000 });
    await running.locator(".steps").waitFor();
    assert.ok(tab.api.length - requestsBefore <= 3 + 2 * 12, "one read of the board, not one per tenant");
    await shot(page, "board-running");
    await page.goto(`${stack.url}/#/tenants/${tenant.id}`);
    const ops = page.getByRole("group", { name: "Operations" });
    // The validate moved it to InTesting: Terminate is what that state allows.
    await page.getByRole("heading", { level: 1 }).getByText("InTesting").waitFor();
    await ops.getByRole("button", { name: "Terminate" }).click();
    await page.getByRole("button", { name: "Request terminate" }).click();
    const alert = page.locator("form.panel").getByRole("alert");
    await alert.waitFor();
    const again = await call(stack.url, tab.token, "POST", `/v1/tenants/${tenant.id}/change-requests`, { operation: "terminate" });
    assert.equal(again.status, 409);
    assert.equal((await alert.textContent()).trim(), again.body.field ? `${again.body.detail} (field: ${again.body.field})` : again.body.detail);
    await axe(page, "the tenant page with a refusal");
    await shot(page, "conflict-409");

    await page.goto(`${stack.url}/#/change-requests/${held.body.id}`);
    await page.getByRole("button", { name: "Abort…" }).click();
    await page.getByLabel("Reason (required)").fill("browser test: stop the hung build");
    await page.getByRole("button", { name: "Yes, abort it" }).click();
    await page.getByRole("heading", { level: 1 }).getByText("cancelled").waitFor({ timeout: 60_000 });
    const ended = (await call(stack.url, tab.token, "GET", `/v1/change-requests/${held.body.id}`)).body;
    assert.equal(ended.status, "cancelled");
    assert.match(ended.aborted_by, /^alice/);
  } finally {
    await fetch(`${stack.jenkins}/__admin/jobs`, { method: "PATCH", headers: { "content-type": "application/json" }, body: '{"outcome":"SUCCESS"}' });
  }
  await tab.close();
});

test("a terminate waits for a second admin, who approves it with a confirmation", async () => {
  const operator = await signedIn("operator", "olga");
  const tenant = await tenantIn("Healthy", operator.token);
  const { page } = operator;
  await page.goto(`${stack.url}/#/tenants/${tenant.id}`);
  await page.getByRole("group", { name: "Operations" }).getByRole("button", { name: "Terminate" }).click();
  await page.getByText("This waits for a second admin's approval before it runs.").waitFor();
  await page.getByLabel("Reason (ticket, incident)").fill("CHG-15 browser test");
  await page.getByRole("button", { name: "Request terminate" }).click();
  await page.waitForURL(/#\/change-requests\/chg_/, { waitUntil: "commit" });
  const crId = page.url().split("/").pop();
  await page.getByRole("heading", { level: 1 }).getByText("awaiting approval").waitFor();
  // The requester may cancel it, not approve it.
  const decisions = page.getByRole("group", { name: "Decisions" });
  assert.deepEqual(await decisions.getByRole("button").allTextContents(), ["Cancel the request"]);
  await operator.close();

  const admin = await signedIn("admin", "alice", `/change-requests/${crId}`);
  await admin.page.getByRole("group", { name: "Decisions" }).getByRole("button", { name: "Approve" }).click();
  await admin.page.getByText("This change request will be approved.").waitFor();
  await axe(admin.page, "the change request page with a confirmation");
  await shot(admin.page, "approve-confirmation");
  await admin.page.getByRole("button", { name: "Yes, approve it" }).click();
  // It runs now; its end is awaited so that the fleet is still for the tests after this one.
  await admin.page.getByRole("heading", { level: 1 }).getByText("succeeded").waitFor({ timeout: 120_000 });
  const cr = (await call(stack.url, admin.token, "GET", `/v1/change-requests/${crId}`)).body;
  assert.match(cr.decided_by, /^alice/);
  assert.match(cr.requested_by, /^olga/);
  await admin.close();
});

test("the tenant's timeline shows a rename: who, old and new", async () => {
  const tab = await signedIn("operator", "olga");
  const tenant = await tenantIn("Suspended", tab.token);
  const { page } = tab;
  await page.goto(`${stack.url}/#/tenants/${tenant.id}`);
  await page.getByRole("button", { name: "Rename…" }).click();
  const renamed = `${tenant.name}-renamed`;
  await page.getByLabel("New name").fill(renamed);
  await page.getByRole("button", { name: "Save the name" }).click();
  await page.getByRole("heading", { level: 1, name: new RegExp(renamed) }).waitFor();
  const entry = page.getByRole("list", { name: "History" }).getByRole("listitem").filter({ hasText: renamed }).first();
  await entry.waitFor({ timeout: 30_000 });
  const text = await entry.textContent();
  assert.match(text, /olga/);
  assert.ok(text.includes(`"${tenant.name}"`) || text.includes(tenant.name), text);
  assert.match(text, /name/);
  await tab.close();
});

test("the list, the history and the API docs pages pass axe", async () => {
  const tab = await signedIn("admin", "alice");
  const { page } = tab;
  await page.goto(`${stack.url}/#/tenants?state=Healthy`);
  await page.getByRole("heading", { level: 1, name: "Tenants" }).waitFor();
  const rows = page.getByRole("table", { name: /loaded/ }).locator("tbody tr");
  await rows.first().waitFor();
  const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector("a").textContent));
  const healthy = (await call(stack.url, tab.token, "GET", "/v1/tenants?state=Healthy&limit=50")).body.items;
  assert.deepEqual(names.sort(), healthy.map((t) => t.name).sort());
  await axe(page, "the tenant list");
  await shot(page, "tenants");
  await page.goto(`${stack.url}/#/history`);
  await page.getByRole("table", { name: /changes, newest first/ }).locator("tbody tr").first().waitFor();
  await axe(page, "the history");
  await shot(page, "history");
  await page.goto(`${stack.url}/#/api`);
  await page.getByRole("heading", { name: "tenants", exact: true }).waitFor();
  const doc = await (await fetch(`${stack.url}/v1/openapi.json`)).json();
  const count = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).filter((k) => ["get", "post", "put", "patch", "delete"].includes(k)).length, 0);
  const schemas = Object.keys(doc.components.schemas).length;
  assert.equal(await page.locator("details.op").count(), count + schemas, "every operation and schema of the served document");
  await axe(page, "the API docs");
  await shot(page, "api-docs");
  assert.deepEqual(tab.cspErrors, []);
  await tab.close();
});
