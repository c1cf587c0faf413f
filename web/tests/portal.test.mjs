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
  // The demo's drifted boxes are left to the drift test, as make dev starts them.
  const drifted = (await call(stack.url, token, "GET", "/v1/fleet/drift?limit=100")).body.items.map((r) => r.tenant_id);
  const t = body.items.find((t) => !t.active_change_request_id && !skip.includes(t.id) && !drifted.includes(t.id));
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
  // the newest rollouts, the licenses expiring, the drifted tenants, and a capped number of
  // change requests and tenant names (12 of each, and 5 drifted tenants' names).
  assert.ok(tab.api.length <= 6 + 2 * 12 + 5, `the board made ${tab.api.length} requests: ${tab.api.join(", ")}`);
  assert.equal(tab.api.filter((r) => r.startsWith("GET /v1/fleet/drift?")).length, 1, "one read of the drifted tenants");
  assert.equal(tab.api.filter((r) => r.startsWith("GET /v1/rollouts")).length, 1, "one read of the newest rollouts");
  assert.equal(tab.api.filter((r) => r.startsWith("GET /v1/licenses/expiring?")).length, 1, "one read of the licenses expiring");
  assert.equal(tab.api.filter((r) => /^GET \/v1\/tenants\/ten_[^/]+$/.test(r.split("?")[0])).length <= 12 + 5, true);

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
    assert.ok(tab.api.length - requestsBefore <= 4 + 2 * 12, "one read of the board, not one per tenant");
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

// Rollouts and the fleet's versions.

const JOBS = (outcome) =>
  fetch(`${stack.jenkins}/__admin/jobs`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ outcome }) });

async function until(what, ms, check) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The heading's status badge, as the page shows it. */
const headingStatus = (page) => page.getByRole("heading", { level: 1 }).locator(".badge").textContent();

test("the rollouts page lists a rollout created through the API, and its page shows its waves and members", async () => {
  const tab = await signedIn("viewer", "vera");
  const admin = stack.token("admin", "alice");
  const a = await tenantIn("Healthy", admin);
  const b = await tenantIn("Healthy", admin, [a.id]);
  const created = await call(stack.url, admin, "POST", "/v1/rollouts", {
    operation: "validate",
    selector: { tenant_ids: [a.id, b.id] },
    waves: [1, 1],
    reason: "browser test: a rollout made through the API",
  });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const id = created.body.id;
  try {
    const { page } = tab;
    await page.waitForLoadState("networkidle");
    let mark = tab.api.length;
    let t0 = Date.now();
    await page.goto(`${stack.url}/#/rollouts`);
    const list = page.getByRole("table", { name: /^Rollouts, newest first/ });
    const row = list.locator("tbody tr").filter({ hasText: id });
    await row.waitFor();
    figures.rollouts_shown_ms = Date.now() - t0;
    await page.waitForLoadState("networkidle");
    figures.rollouts_requests = tab.api.slice(mark);
    // One request (again every 5 s while the page is open).
    assert.deepEqual([...new Set(figures.rollouts_requests)], ["GET /v1/rollouts?limit=25"], "the list is one request");
    // Newest first: the one just made is the first row, as it is the API's first item.
    const first = (await call(stack.url, admin, "GET", "/v1/rollouts?limit=25")).body.items[0];
    assert.equal(first.id, id);
    assert.ok((await list.locator("tbody tr").first().innerText()).includes(id), "the newest is on top");
    assert.equal((await row.locator(".badge").first().textContent()).trim(), first.status);
    assert.equal(await row.getByRole("list", { name: `Waves of ${id}` }).getByRole("listitem").count(), first.wave_sizes.length);
    assert.deepEqual(await page.getByRole("button").allTextContents(), ["Sign out"], "a viewer has no action, nor the new rollout form");
    assert.equal(await page.getByRole("link", { name: "New rollout…" }).count(), 0);
    await axe(page, "the rollouts list");
    await shot(page, "rollouts");

    mark = tab.api.length;
    t0 = Date.now();
    await row.getByRole("link").first().click();
    await page.waitForURL(new RegExp(`#/rollouts/${id}$`));
    await page.getByRole("heading", { level: 1, name: /Validate/ }).waitFor();
    const waves = page.locator("table.wave");
    await waves.first().waitFor();
    figures.rollout_shown_ms = Date.now() - t0;
    // The rollout (its members come with it), and the names of its (at most 20) tenants.
    const detail = tab.api.slice(mark).filter((r) => !r.startsWith("GET /v1/rollouts?"));
    figures.rollout_requests = detail;
    assert.equal(detail.filter((r) => r === `GET /v1/rollouts/${id}`).length, 1, detail.join(", "));
    assert.ok(detail.every((r) => r === `GET /v1/rollouts/${id}` || r === `GET /v1/tenants/${a.id}` || r === `GET /v1/tenants/${b.id}`), detail.join(", "));
    const read = (await call(stack.url, admin, "GET", `/v1/rollouts/${id}`)).body;
    assert.equal(await waves.count(), read.waves.length);
    for (const [i, w] of read.waves.entries()) {
      const shown = await waves.nth(i).locator("tbody tr").evaluateAll((trs) =>
        trs.map((tr) => {
          const links = [...tr.querySelectorAll("a")].map((a) => a.getAttribute("href"));
          return { tenant: links[0], change: links[1] ?? null };
        }),
      );
      assert.deepEqual(
        shown,
        w.tenants.map((t) => ({ tenant: `#/tenants/${t.tenant_id}`, change: t.change_request_id ? `#/change-requests/${t.change_request_id}` : null })),
        `wave ${i + 1}: its tenants and their change requests`,
      );
    }
    // The first wave's tenant has its change request at once; the second waits for the gate.
    assert.ok(read.waves[0].tenants[0].change_request_id, "the first wave started");
    assert.equal(read.waves[1].tenants[0].change_request_id, undefined);
    const gate = page.getByRole("definition").filter({ hasText: /^wave 1 of 2/ });
    await gate.waitFor();
    assert.deepEqual(await page.getByRole("button").allTextContents(), ["Sign out"], "a viewer gets no control");
    await axe(page, "a rollout's page");
    await shot(page, "rollout");
    // The change request names the rollout that made it, linked.
    const cr = read.waves[0].tenants[0].change_request_id;
    await waves.first().getByRole("link", { name: cr }).click();
    const back = page.getByRole("link", { name: `part of rollout ${id}` });
    await back.waitFor();
    assert.equal(await back.getAttribute("href"), `#/rollouts/${id}`);
    // Its first change request ends before the rollout is aborted: the fleet is still after this test.
    await until(`${cr} ends`, 240_000, async () => (await call(stack.url, admin, "GET", `/v1/change-requests/${cr}`)).body.status !== "running");
  } finally {
    await call(stack.url, admin, "POST", `/v1/rollouts/${id}/abort`, { reason: "browser test: done" });
    await tab.close();
  }
});

test("an operator dry-runs a rollout from the form (a 422 shows its detail), starts it, pauses and resumes it; an admin aborts it", async () => {
  const operator = await signedIn("operator", "olga", "/rollouts");
  const healthy = await tenantIn("Healthy", operator.token);
  const suspended = await tenantIn("Suspended", operator.token);
  const { page } = operator;
  await page.getByRole("link", { name: "New rollout…" }).click();
  await page.getByRole("heading", { level: 1, name: "New rollout" }).waitFor();
  await page.getByLabel(/^Operation/).selectOption("validate");
  await page.getByLabel("Reason (ticket, incident)").fill("CHG-13 browser test");
  await page.getByLabel("Wave sizes (the last takes the rest)").fill("1");
  // A tenant id that names no tenant: the API's 422 is shown as its detail, next to the form.
  const nobody = "ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A";
  await page.getByLabel("Tenant ids (these, in this order)").fill(nobody);
  await page.getByRole("button", { name: "Dry run" }).click();
  const refusal = page.getByRole("form", { name: "New rollout" }).getByRole("alert");
  await refusal.waitFor();
  const refused = await call(stack.url, operator.token, "POST", "/v1/rollouts/plan", {
    operation: "validate",
    params: {},
    reason: "CHG-13 browser test",
    selector: { tenant_ids: [nobody] },
    waves: [1],
    max_failures: 0,
    soak_seconds: 0,
    concurrency: 10,
  });
  assert.equal(refused.status, 422);
  assert.equal((await refusal.textContent()).trim(), refused.body.field ? `${refused.body.detail} (field: ${refused.body.field})` : refused.body.detail);
  assert.equal(await page.getByRole("button", { name: "Start the rollout" }).count(), 0, "no plan, nothing to start");

  await page.getByLabel("Tenant ids (these, in this order)").fill(`${healthy.id}, ${suspended.id}`);
  await page.getByRole("button", { name: "Dry run" }).click();
  await page.getByRole("heading", { name: "Dry run: the plan" }).waitFor();

  // The plan shown is the API's for the same body (which writes nothing).
  const body = {
    operation: "validate",
    params: {},
    reason: "CHG-13 browser test",
    selector: { tenant_ids: [healthy.id, suspended.id] },
    waves: [1],
    max_failures: 0,
    soak_seconds: 0,
    concurrency: 10,
  };
  const plan = (await call(stack.url, operator.token, "POST", "/v1/rollouts/plan", body)).body;
  assert.equal(plan.would_run, 1);
  assert.equal(plan.refused, 1);
  const waves = page.locator("table.plan-wave");
  assert.equal(await waves.count(), plan.wave_sizes.length);
  for (const [i] of plan.wave_sizes.entries()) {
    const names = await waves.nth(i).locator("tbody tr td:first-child").allTextContents();
    assert.deepEqual(names, plan.tenants.filter((t) => t.would_run && t.wave === i).map((t) => t.name));
  }
  const leftOut = await page.getByRole("table", { name: /^Left out/ }).locator("tbody tr").evaluateAll((trs) =>
    trs.map((tr) => [tr.cells[0].textContent, tr.cells[2].textContent]),
  );
  assert.deepEqual(leftOut, [[suspended.name, "its state (Suspended) does not allow it"]]);
  assert.equal(plan.tenants.find((t) => t.tenant_id === suspended.id).not_run.reason, "state");
  assert.equal((await call(stack.url, operator.token, "GET", "/v1/rollouts?limit=1")).body.items.some((r) => r.reason === body.reason), false, "a dry run writes nothing");
  await axe(page, "the new rollout form with its plan");
  await shot(page, "rollout-dry-run");

  // Builds hang, so the rollout's change request runs until the abort below.
  await JOBS("hang");
  try {
    await page.getByRole("button", { name: "Start the rollout" }).click();
    await page.waitForURL(/#\/rollouts\/rol_/, { waitUntil: "commit" });
    const id = page.url().split("/").pop();
    await page.getByRole("heading", { level: 1 }).getByText("running").waitFor();
    const started = (await call(stack.url, operator.token, "GET", `/v1/rollouts/${id}`)).body;
    assert.equal(started.tenant_count, 1);
    assert.equal(started.refused_count, 1);
    assert.match(started.created_by, /^olga/);
    assert.deepEqual(started.waves[0].tenants.map((t) => t.tenant_id), [healthy.id]);

    // An operator may pause and resume, not abort (admins only).
    const controls = page.getByRole("group", { name: "Rollout controls" });
    assert.deepEqual(await controls.getByRole("button").allTextContents(), ["Pause"]);
    await controls.getByRole("button", { name: "Pause" }).click();
    await page.getByText("Nothing new starts while it is paused; the change requests running go on.").waitFor();
    await page.getByRole("button", { name: "Yes, pause it" }).click();
    await page.getByRole("heading", { level: 1 }).getByText("paused").waitFor();
    assert.equal((await call(stack.url, operator.token, "GET", `/v1/rollouts/${id}`)).body.status, "paused");
    await shot(page, "rollout-paused");
    await controls.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("button", { name: "Yes, resume it" }).click();
    await page.getByRole("heading", { level: 1 }).getByText("running").waitFor();
    assert.equal((await call(stack.url, operator.token, "GET", `/v1/rollouts/${id}`)).body.status, "running");
    // The board links it among the rollouts in progress.
    await page.goto(`${stack.url}/#/`);
    const onBoard = page.getByRole("list", { name: /^Rollouts in progress/ }).getByRole("listitem").filter({ has: page.locator(`a[href="#/rollouts/${id}"]`) });
    await onBoard.waitFor();
    assert.match(await onBoard.innerText(), /Validate over 1 tenant, wave 1 of 1\s+running/);
    await axe(page, "the board with a rollout in progress");
    await shot(page, "board-rollouts");
    await operator.close();

    const admin = await signedIn("admin", "alice", `/rollouts/${id}`);
    const adminControls = admin.page.getByRole("group", { name: "Rollout controls" });
    await adminControls.getByRole("button", { name: "Abort…" }).click();
    await admin.page.getByLabel("Reason (required)").fill("browser test: stop the hung rollout");
    await axe(admin.page, "a rollout's abort confirmation");
    await admin.page.getByRole("button", { name: "Yes, abort it" }).click();
    await admin.page.getByRole("heading", { level: 1 }).getByText("cancelled").waitFor({ timeout: 60_000 });
    const ended = (await call(stack.url, admin.token, "GET", `/v1/rollouts/${id}`)).body;
    assert.equal(ended.status, "cancelled");
    assert.match(ended.ended_reason, /stop the hung rollout/);
    const cr = started.waves[0].tenants[0].change_request_id;
    await until(`${cr} is aborted`, 60_000, async () => (await call(stack.url, admin.token, "GET", `/v1/change-requests/${cr}`)).body.status === "cancelled");
    assert.equal(await admin.page.getByRole("group", { name: "Rollout controls" }).count(), 0, "no control once it is over");
    await shot(admin.page, "rollout-aborted");
    await admin.close();
  } finally {
    await JOBS("SUCCESS");
  }
});

test("the versions page's numbers and drift are GET /v1/fleet/versions's, linked to the filtered tenant list", async () => {
  // A hotfix recorded on one tenant: its component differs from its release's manifest (drift).
  const admin = stack.token("admin", "alice");
  const before = (await call(stack.url, admin, "GET", "/v1/fleet/versions")).body;
  // A tenant whose record may change: not one an earlier test terminated (its record is frozen),
  // nor one of the demo's drifted boxes (left to the drift test).
  const boxes = (await call(stack.url, admin, "GET", "/v1/fleet/drift?limit=100")).body.items.map((r) => r.tenant_id);
  let onRelease, drifter;
  for (const r of before.releases) {
    for (const id of r.tenant_ids.filter((id) => !boxes.includes(id))) {
      const t = (await call(stack.url, admin, "GET", `/v1/tenants/${id}`)).body;
      if (t.state !== "EndOfLife") [onRelease, drifter] = [r, id];
      if (drifter) break;
    }
    if (drifter) break;
  }
  assert.ok(drifter, `a tenant whose record may change, in ${JSON.stringify(before.releases)}`);
  const manifest = (await call(stack.url, admin, "GET", `/v1/releases/${onRelease.version}`)).body.components.webapp;
  const put = await call(stack.url, admin, "PUT", `/v1/tenants/${drifter}/components/webapp`, { version: `${manifest}-hotfix1` });
  assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
  const tab = await signedIn("viewer", "vera", "/versions");
  const { page } = tab;
  const table = page.getByRole("table", { name: "Releases, newest first" });
  await table.locator("tbody tr").first().waitFor();
  const v = (await call(stack.url, tab.token, "GET", "/v1/fleet/versions")).body;
  figures.fleet_total ??= v.releases.reduce((n, r) => n + r.tenant_count, 0);
  const rows = await table.locator("tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({
      version: tr.cells[0].textContent,
      status: tr.cells[1].textContent,
      tenants: Number(tr.cells[2].textContent),
      behind: parseInt(tr.cells[3].textContent, 10),
      drifted: Number(tr.cells[4].querySelector(".num-cell").textContent),
      link: tr.cells[0].querySelector("a")?.getAttribute("href") ?? null,
    })),
  );
  assert.deepEqual(
    rows,
    v.releases.map((r) => ({
      version: r.version,
      status: r.status,
      tenants: r.tenant_count,
      behind: r.behind,
      drifted: r.drifted.length,
      link: r.tenant_count > 0 ? `#/tenants?release=${encodeURIComponent(r.version)}` : null,
    })),
  );
  assert.ok(rows.some((r) => r.tenants > 0), "the demo fleet runs some release");
  const driftRows = await page.locator("table.drift tbody tr").count();
  assert.equal(driftRows, v.releases.reduce((n, r) => n + r.drifted.reduce((m, d) => m + d.components.length, 0), 0));
  const hotfix = page.locator("table.drift tbody tr").filter({ hasText: `${manifest}-hotfix1` });
  assert.deepEqual(
    await hotfix.evaluate((tr) => [...tr.cells].map((td) => td.textContent)),
    [drifter, onRelease.version, "webapp", manifest, `${manifest}-hotfix1`],
    "the hotfix is shown as drift: the tenant, its release, the manifest's version and the recorded one",
  );
  if (v.newest_available) await page.getByText(`Newest available release: ${v.newest_available}.`, { exact: false }).waitFor();
  // The page is one request, whatever the fleet.
  await page.waitForLoadState("networkidle");
  const mark = tab.api.length;
  const t0 = Date.now();
  await page.reload();
  await table.locator("tbody tr").first().waitFor();
  figures.versions_shown_ms = Date.now() - t0;
  await page.waitForLoadState("networkidle");
  figures.versions_requests = tab.api.slice(mark);
  assert.deepEqual(figures.versions_requests, ["GET /v1/fleet/versions"]);
  await axe(page, "the fleet versions");
  await shot(page, "versions");

  // A release with more tenants than the first page (a large fleet: STACK=memory
  // DEMO_TENANTS=1000): "Check more" reads its next page and adds that page's drift.
  const paged = v.releases.find((r) => r.next_token);
  if (paged) {
    const next = (await call(stack.url, tab.token, "GET", `/v1/fleet/versions?release=${paged.version}&next_token=${paged.next_token}&limit=100`)).body.releases[0];
    await table.getByRole("button", { name: `Check more of ${paged.version}` }).click();
    const cell = table.locator("tbody tr").filter({ has: page.getByRole("rowheader", { name: paged.version, exact: true }) }).locator("td").nth(3);
    const checked = paged.tenant_ids.length + next.tenant_ids.length;
    await until("the next page is read", 30_000, async () =>
      next.next_token ? (await cell.innerText()).includes(`of the first ${checked}`) : (await cell.getByRole("button").count()) === 0,
    );
    assert.equal(Number(await cell.locator(".num-cell").textContent()), paged.drifted.length + next.drifted.length);
    figures.versions_paged = { release: paged.version, checked };
  }

  // A release's link opens the tenant list filtered by it: as many tenants as the release has.
  const release = v.releases.find((r) => r.tenant_count > 0 && r.tenant_count <= 50);
  if (release) {
    await table.getByRole("link", { name: release.version, exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Tenants" }).waitFor();
    const list = page.getByRole("table", { name: /loaded/ }).locator("tbody tr");
    await list.first().waitFor();
    assert.equal(await list.count(), release.tenant_count);
    assert.deepEqual([...new Set(await list.evaluateAll((trs) => trs.map((tr) => tr.cells[2].textContent)))], [release.version]);
  }
  assert.deepEqual(tab.cspErrors, []);
  await tab.close();
  await call(stack.url, admin, "PUT", `/v1/tenants/${drifter}/components/webapp`, { version: manifest });
});

test("an operator opens an upgrade of a release behind from the versions page, and its dry run shows each tenant's component changes", async () => {
  const tab = await signedIn("operator", "olga", "/versions");
  const { page } = tab;
  const v = (await call(stack.url, tab.token, "GET", "/v1/fleet/versions")).body;
  const behind = v.releases.find((r) => r.behind > 0 && r.tenant_count > 0);
  assert.ok(behind && v.newest_available, "the demo fleet has tenants on a release behind the newest");
  await page.getByRole("link", { name: `Upgrade ${behind.version} to ${v.newest_available}…` }).click();
  await page.getByRole("heading", { level: 1, name: "New rollout" }).waitFor();
  // The form comes filled in from the link (once the releases are read).
  const release = page.getByLabel("Release to upgrade to");
  await until("the releases are read", 30_000, async () => (await release.inputValue()) === v.newest_available);
  assert.equal(await page.getByLabel(/^Operation/).inputValue(), "upgrade");
  assert.equal(await page.getByLabel("On release").inputValue(), behind.version);
  await page.getByRole("button", { name: "Dry run" }).click();
  await page.getByRole("heading", { name: "Dry run: the plan" }).waitFor();
  const plan = (
    await call(stack.url, tab.token, "POST", "/v1/rollouts/plan", {
      operation: "upgrade",
      params: { release: v.newest_available },
      reason: null,
      selector: { release: behind.version },
      waves: [1, 10],
      max_failures: 0,
      soak_seconds: 0,
      concurrency: 10,
    })
  ).body;
  assert.equal(plan.selected, behind.tenant_count);
  const waves = page.locator("table.plan-wave");
  assert.equal(await waves.count(), plan.wave_sizes.length);
  for (const [i] of plan.wave_sizes.entries()) {
    const rows = await waves.nth(i).locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [tr.cells[0].textContent, tr.cells[3].textContent]));
    const want = plan.tenants.filter((t) => t.would_run && t.wave === i);
    assert.deepEqual(rows.map((r) => r[0]), want.map((t) => t.name), `wave ${i + 1}'s tenants`);
    for (const [j, t] of want.entries()) {
      assert.ok(rows[j][1].includes(`${t.upgrade.from_release} → ${t.upgrade.to_release}: ${t.upgrade.components.length} components change`), rows[j][1]);
      for (const c of t.upgrade.components) assert.ok(rows[j][1].includes(`${c.name} ${c.from ?? "new"} → ${c.to}`), `${rows[j][1]} names ${c.name}`);
    }
  }
  const left = plan.tenants.filter((t) => !t.would_run);
  if (left.length > 0) {
    const shown = await page.getByRole("table", { name: /^Left out/ }).locator("tbody tr td:first-child").allTextContents();
    assert.deepEqual(shown, left.map((t) => t.name));
  }
  assert.equal((await call(stack.url, tab.token, "GET", "/v1/rollouts?limit=5")).body.items.some((r) => r.operation === "upgrade"), false, "nothing was started");
  await axe(page, "an upgrade's dry run");
  await shot(page, "rollout-upgrade-dry-run");
  await tab.close();
});

test("a tenant's tags filter the tenant list and select a rollout's tenants", async () => {
  const admin = stack.token("admin", "alice");
  const tenant = await tenantIn("Healthy", admin);
  const read = await fetch(`${stack.url}/v1/tenants/${tenant.id}`, { headers: { authorization: `Bearer ${admin}` } });
  const patched = await fetch(`${stack.url}/v1/tenants/${tenant.id}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", "if-match": read.headers.get("etag") },
    body: JSON.stringify({ tags: { ring: "canary" } }),
  });
  assert.equal(patched.status, 200, await patched.text());
  const tab = await signedIn("operator", "olga", "/tenants");
  const { page } = tab;
  await page.getByRole("heading", { level: 1, name: "Tenants" }).waitFor();
  await page.getByLabel("Tags (key:value, comma separated)").fill("ring: canary");
  await page.getByRole("button", { name: "Apply the tags" }).click();
  await page.waitForURL(/#\/tenants\?tags=ring%3Acanary$/);
  const rows = page.getByRole("table", { name: /loaded/ }).locator("tbody tr");
  await rows.first().waitFor();
  const api = (await call(stack.url, tab.token, "GET", "/v1/tenants?tags=ring:canary&limit=50")).body.items;
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector("a").textContent)), api.map((t) => t.name));
  assert.ok(api.some((t) => t.id === tenant.id));
  await axe(page, "the tenant list filtered by tags");
  // The tenant's page shows its tags, each linked to the list it filters.
  await rows.getByRole("link", { name: tenant.name, exact: true }).click();
  const chip = page.getByRole("link", { name: "ring: canary" });
  await chip.waitFor();
  assert.equal(await chip.getAttribute("href"), "#/tenants?tags=ring%3Acanary");
  // A rollout's selector by the same tag picks the same tenants in its dry run.
  await page.goto(`${stack.url}/#/rollouts/new`);
  await page.getByLabel("Tags (key:value, comma separated)").fill("ring:canary");
  await page.getByRole("button", { name: "Dry run" }).click();
  await page.getByRole("heading", { name: "Dry run: the plan" }).waitFor();
  const planned = await page.locator("table.plan-wave tbody tr td:first-child, table.plan-left-out tbody tr td:first-child").allTextContents();
  assert.deepEqual(planned.sort(), api.map((t) => t.name).sort());
  await shot(page, "rollout-by-tag");
  await tab.close();
});

test("a failing first wave halts a rollout: it is named among what needs attention, its page shows the gate's failure and the later wave untouched", async () => {
  const admin = stack.token("admin", "alice");
  const a = await tenantIn("Healthy", admin);
  const b = await tenantIn("Healthy", admin, [a.id]);
  await JOBS("FAILURE");
  let id;
  try {
    const created = await call(stack.url, admin, "POST", "/v1/rollouts", {
      operation: "validate",
      selector: { tenant_ids: [a.id, b.id] },
      waves: [1, 1],
      max_failures: 0,
      reason: "browser test: a failing first wave",
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    id = created.body.id;
    const cr = (await call(stack.url, admin, "GET", `/v1/rollouts/${id}`)).body.waves[0].tenants[0].change_request_id;
    await until(`${cr} fails`, 240_000, async () => (await call(stack.url, admin, "GET", `/v1/change-requests/${cr}`)).body.status === "failed");
  } finally {
    await JOBS("SUCCESS");
  }
  // `devstack serve` runs no rollout driver (in AWS a schedule runs it every minute): a resume
  // advances the rollout at once, so a pause and a resume bring it to its gate.
  if ((await call(stack.url, admin, "GET", `/v1/rollouts/${id}`)).body.status === "running") {
    assert.equal((await call(stack.url, admin, "POST", `/v1/rollouts/${id}/pause`)).status, 200);
    assert.equal((await call(stack.url, admin, "POST", `/v1/rollouts/${id}/resume`)).status, 200);
  }
  const halted = await until(`${id} halts`, 60_000, async () => {
    const r = (await call(stack.url, admin, "GET", `/v1/rollouts/${id}`)).body;
    return r.status === "halted" && r;
  });

  const tab = await signedIn("operator", "olga");
  const { page } = tab;
  const item = page.getByRole("list", { name: /^Needs attention/ }).getByRole("listitem").filter({ has: page.locator(`a[href="#/rollouts/${id}"]`) });
  await item.waitFor();
  assert.ok((await item.innerText()).includes(halted.ended_reason), await item.innerText());
  await item.getByRole("link").click();
  await page.getByRole("heading", { level: 1 }).getByText("halted").waitFor();
  const facts = await page.locator("dl.facts").evaluateAll((dls) =>
    dls.flatMap((dl) => [...dl.querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])),
  );
  const fact = (name) => facts.find(([dt]) => dt === name)?.[1];
  assert.equal(fact("Ended"), halted.ended_reason);
  assert.equal(fact("Failures allowed per wave"), "0");
  assert.match(fact("Where it stopped"), /^wave 1 of 2: 0 succeeded, 1 failed \(more than allowed\)/);
  // The later wave was never touched: its tenant has no change request, and shows not run.
  const second = page.locator("table.wave").nth(1).locator("tbody tr");
  assert.equal(halted.waves[1].tenants[0].status, "not_run");
  assert.equal(halted.waves[1].tenants[0].change_request_id, undefined);
  assert.equal((await second.locator(".badge").textContent()).trim(), "not run");
  assert.equal(await second.locator('a[href^="#/change-requests/"]').count(), 0);
  assert.equal((await call(stack.url, admin, "GET", `/v1/tenants/${b.id}/change-requests`)).body.items.some((c) => c.requested_by.includes(id)), false);
  assert.equal(await page.getByRole("group", { name: "Rollout controls" }).count(), 0, "a halted rollout offers no control");
  await axe(page, "a halted rollout");
  await shot(page, "rollout-halted");
  await tab.close();
});

/** A customer with no tenant, a license, and an assignment of it expiring `days` ahead, through
 * the API (no tenant: no change request is started). */
async function expiringAssignment(token, days, tag) {
  const customer = await call(stack.url, token, "POST", "/v1/customers", { name: `Expiring ${tag} ${Date.now()}` });
  assert.equal(customer.status, 201, JSON.stringify(customer.body));
  const license = await call(stack.url, token, "POST", "/v1/licenses", { name: `Trial ${tag} ${Date.now()}`, kind: "trial" });
  assert.equal(license.status, 201, JSON.stringify(license.body));
  const expires_at = new Date(Date.now() + days * 24 * 3600 * 1000).toISOString();
  const assignment = await call(stack.url, token, "POST", "/v1/license-assignments", {
    customer_id: customer.body.id,
    license_id: license.body.id,
    expires_at,
  });
  assert.equal(assignment.status, 201, JSON.stringify(assignment.body));
  return { customer: customer.body, license: license.body, assignment: assignment.body };
}

/** The licenses page's rows, read from the DOM: assignment, customer (text and link), days left. */
async function licenseRows(page) {
  return page.locator("table.licenses tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({
      id: tr.dataset.assignment,
      customer: tr.querySelector("td:nth-child(1) a").getAttribute("href"),
      expires: tr.querySelector("td:nth-child(4) time")?.getAttribute("datetime") ?? null,
      left: tr.querySelector("td:nth-child(5)").textContent.trim(),
    })),
  );
}

test("licenses: the page's rows are the API's for the same days, and the board names an assignment expiring soon", async () => {
  const admin = stack.token("admin", "alice");
  const soon = await expiringAssignment(admin, 3, "soon");
  const later = await expiringAssignment(admin, 20, "later");

  const tab = await signedIn("viewer", "vera", "/licenses?days=7");
  const { page } = tab;
  for (const days of [7, 30, 90]) {
    const t0 = Date.now();
    const start = tab.api.length;
    if (days !== 7) await page.getByRole("combobox", { name: /Within/ }).selectOption(String(days));
    const answer = (await call(stack.url, tab.token, "GET", `/v1/licenses/expiring?days=${days}&limit=500`)).body.items;
    await page.getByRole("table", { name: new RegExp(`expiring within ${days} days \\(${answer.length}\\)`) }).waitFor();
    if (days !== 7) {
      figures[`licenses_${days}_shown_ms`] = Date.now() - t0; // a days choice → its table on screen
      figures[`licenses_${days}_requests`] = tab.api.slice(start);
      figures[`licenses_${days}_rows`] = answer.length;
    }
    const rows = await licenseRows(page);
    assert.deepEqual(
      rows.map((r) => [r.id, r.customer, r.expires]),
      answer.map((a) => [a.id, `#/tenants?customer_id=${encodeURIComponent(a.customer_id)}`, a.expires_at]),
      `the rows for ${days} days are the API's, in its order`,
    );
    const ids = rows.map((r) => r.id);
    assert.ok(ids.includes(soon.assignment.id), `${days} days lists the one expiring in 3 days`);
    assert.equal(ids.includes(later.assignment.id), days >= 30, `${days} days and the one expiring in 20 days`);
    const mine = rows.find((r) => r.id === soon.assignment.id);
    assert.equal(mine.left, "3 days");
    // The customer is named, its link the tenant list filtered by it.
    const row = page.locator(`tr[data-assignment="${soon.assignment.id}"]`);
    assert.equal((await row.getByRole("link").innerText()).trim(), soon.customer.name);
    assert.ok((await row.innerText()).includes(soon.license.name));
  }
  assert.deepEqual(tab.cspErrors, []);
  await axe(page, "the licenses page");
  await shot(page, "licenses");
  // The customer's link opens the tenant list filtered by that customer.
  await page.locator(`tr[data-assignment="${soon.assignment.id}"]`).getByRole("link").click();
  await page.waitForURL(/#\/tenants\?customer_id=/);
  assert.ok(page.url().endsWith(`#/tenants?customer_id=${soon.customer.id}`), page.url());
  await tab.close();

  // The board: a line under "Needs attention" for the one expiring within 7 days, none for the
  // other, from one read of the expiring list; its idle poll stays the one history query.
  const board = await signedIn("viewer", "vera");
  const attention = board.page.getByRole("list", { name: /Needs attention/ });
  const line = attention.locator(`li[data-assignment="${soon.assignment.id}"]`);
  await line.waitFor();
  assert.equal(await line.getByRole("link", { name: soon.customer.id }).getAttribute("href"), `#/tenants?customer_id=${soon.customer.id}`);
  assert.ok((await line.innerText()).includes("3 days"), await line.innerText());
  assert.equal(await attention.locator(`li[data-assignment="${later.assignment.id}"]`).count(), 0);
  await board.page.waitForLoadState("networkidle");
  assert.equal(board.api.filter((r) => r.startsWith("GET /v1/licenses/expiring?days=7")).length, 1, board.api.join(", "));
  const before = board.api.length;
  await board.page.waitForTimeout(9000);
  const polls = board.api.slice(before);
  assert.ok(polls.every((p) => p.startsWith("GET /v1/history?entity=tenant&since=") || p.startsWith("GET /v1/change-requests/")), polls.join(", "));
  await axe(board.page, "the board with a license expiring");
  await board.close();
});

test("metering: a tenant's page charts its samples after the metering schedule, and says so without any", async () => {
  const admin = stack.token("admin", "alice");
  const tab = await signedIn("viewer", "vera");
  const { body } = await call(stack.url, admin, "GET", "/v1/tenants?limit=100");
  const empty = [];
  for (const t of body.items) {
    const m = (await call(stack.url, admin, "GET", `/v1/tenants/${t.id}/metering`)).body;
    if (m.samples.length === 0) empty.push(t);
  }
  // Before any run of the schedule (or for a tenant it does not read) the page says so.
  if (empty.length > 0) {
    await tab.page.goto(`${stack.url}/#/tenants/${empty[0].id}`);
    await tab.page.getByRole("heading", { name: "Metering" }).waitFor();
    await tab.page.getByText("No metering samples in the last 30 days.").waitFor();
    assert.equal(await tab.page.locator(".metering svg").count(), 0);
  }
  // `make schedule NAME=metering`: the rule fires now, and each tenant it reads gets a sample.
  const fired = await fetch(`${stack.events()}/__admin/schedules`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "metering" }),
  });
  assert.equal(fired.status, 200, await fired.clone().text());
  let sampled;
  for (const t of body.items) {
    const m = (await call(stack.url, admin, "GET", `/v1/tenants/${t.id}/metering`)).body;
    if (m.samples.length > 0) {
      sampled = { tenant: t, metering: m };
      break;
    }
  }
  assert.ok(sampled, "the metering schedule sampled some tenant");
  const { page } = tab;
  await page.goto(`${stack.url}/#/tenants/${sampled.tenant.id}`);
  await page.reload(); // the same tenant as the empty case, maybe: read it again
  await page.getByRole("heading", { name: "Metering" }).waitFor();
  const charts = page.locator(".metering figure.metric");
  await charts.first().waitFor({ timeout: 10_000 }).catch(async (e) => {
    const text = await page.locator("main").innerText();
    throw new Error(`${e.message}\n${text.slice(text.indexOf("Metering") - 200, text.indexOf("Metering") + 400)}\n${JSON.stringify(sampled.metering).slice(0, 600)}`);
  });
  const n = sampled.metering.samples.length;
  const captions = await charts.locator("figcaption").allInnerTexts();
  assert.deepEqual(captions.map((c) => c.split(":")[0]), ["Users", "Assets", "Data volume"]);
  const last = sampled.metering.samples[n - 1];
  assert.equal(captions[0], `Users: ${last.users}`);
  assert.equal(captions[1], `Assets: ${last.assets}`);
  for (const name of ["Users", "Assets", "Data volume"]) {
    const svg = page.getByRole("img", { name: `${name}, ${n} points` });
    await svg.waitFor();
    const points = (await svg.locator("polyline").getAttribute("points")).trim().split(/\s+/);
    assert.equal(points.length, n, `${name}: a point per sample`);
  }
  await axe(page, "a tenant page with metering");
  await shot(page, "tenant-metering");
  await tab.close();
});

test("drift: the board and the drift page name the demo's drifted boxes as the API does, a tenant's page shows its differences, and an operator adopts them", async () => {
  const admin = stack.token("admin", "alice");
  const fleet = (await call(stack.url, admin, "GET", "/v1/fleet/drift?limit=100")).body.items;
  assert.ok(fleet.length >= 1, "make dev's start drifts two demo boxes and checks the fleet");

  // The board: a line per drifted tenant under "Needs attention", naming what differs.
  const tab = await signedIn("operator", "olga");
  const { page } = tab;
  const attention = page.getByRole("list", { name: /Needs attention/ });
  // A drifted tenant from which both actions may be requested: Healthy, held by no change request.
  let first, tenant;
  for (const r of fleet) {
    const t = (await call(stack.url, admin, "GET", `/v1/tenants/${r.tenant_id}`)).body;
    if (t.state === "Healthy" && !t.active_change_request_id) [first, tenant] = [r, t];
    if (first) break;
  }
  assert.ok(first, `a Healthy drifted tenant that no change request holds, among ${JSON.stringify(fleet)}`);
  const line = attention.locator(`li[data-drift="${first.tenant_id}"]`);
  await line.waitFor();
  assert.equal(await line.getByRole("link").first().innerText(), tenant.name);
  const text = await line.innerText();
  for (const d of first.drifted.slice(0, 3)) assert.ok(text.includes(`${d.kind} ${d.name} runs`), `${d.name} in: ${text}`);

  // The drift page: the API's rows, in its order, each tenant named and linked.
  await page.goto(`${stack.url}/#/drift`);
  const table = page.getByRole("table", { name: /Drifted tenants/ });
  await table.waitFor();
  const rows = await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-tenant")));
  assert.deepEqual(rows, fleet.map((r) => r.tenant_id));
  assert.deepEqual(tab.cspErrors, []);
  await axe(page, "the drift page");
  await shot(page, "drift");

  // The tenant's page: its differences, recorded against the box, and the two actions on them.
  await table.locator(`tr[data-tenant="${first.tenant_id}"]`).getByRole("link").click();
  await page.getByRole("heading", { level: 1, name: new RegExp(tenant.name) }).waitFor();
  await page.getByRole("heading", { name: "Drift" }).waitFor();
  for (const d of first.drifted) {
    const row = page.locator(`tr[data-drift="${d.name}"]`);
    await row.waitFor();
    const cells = await row.locator("td").allInnerTexts();
    assert.equal(cells[0], d.kind);
    assert.equal(cells[1], d.name);
    if (d.live !== null && d.live !== undefined) assert.equal(cells[3], String(d.live));
  }
  const ops = page.getByRole("group", { name: "Operations" });
  await ops.getByRole("button", { name: "Re-apply recorded", exact: true }).waitFor();
  await axe(page, "a tenant page with drift");
  await shot(page, "tenant-drift");

  // Adopting: a change request; once it succeeds the record holds what the box runs.
  await ops.getByRole("button", { name: "Adopt drift", exact: true }).click();
  await page.getByRole("button", { name: "Request adopt drift" }).click();
  await page.waitForURL(/#\/change-requests\/chg_/, { waitUntil: "commit" });
  const crId = page.url().split("/").pop();
  const end = Date.now() + 120_000;
  for (;;) {
    const status = await page.getByRole("heading", { level: 1 }).locator(".badge").textContent();
    if (status === "succeeded") break;
    assert.ok(!["failed", "cancelled"].includes(status), `the adoption ended ${status}`);
    assert.ok(Date.now() < end, "the adoption did not finish");
    await page.waitForTimeout(500);
  }
  const cr = (await call(stack.url, admin, "GET", `/v1/change-requests/${crId}`)).body;
  assert.equal(cr.operation, "adopt_drift");
  for (const d of first.drifted.filter((d) => d.kind === "component" && d.live)) {
    const c = (await call(stack.url, admin, "GET", `/v1/tenants/${first.tenant_id}/components/${d.name}`)).body;
    assert.equal(c.version, d.live, `the record took the box's ${d.name}`);
  }
  for (const d of first.drifted.filter((d) => d.kind === "config" && d.live !== null && d.live !== undefined)) {
    const c = (await call(stack.url, admin, "GET", `/v1/tenants/${first.tenant_id}/configs/${d.name}`)).body;
    assert.equal(c.value, d.live, `the record took the box's ${d.name}`);
  }
  // The tenant's page no longer offers them while its last check holds drift... until it is
  // read again: the next check of the schedule finds nothing.
  const fired = await fetch(`${stack.events()}/__admin/schedules`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "drift" }),
  });
  assert.equal(fired.status, 200, await fired.clone().text());
  const after = (await call(stack.url, admin, "GET", `/v1/tenants/${first.tenant_id}/drift`)).body;
  assert.equal(after.drifted, false, JSON.stringify(after));
  await page.goto(`${stack.url}/#/tenants/${first.tenant_id}`);
  await page.getByText(/Its box ran what its record says/).waitFor();
  await page.getByRole("group", { name: "Operations" }).getByRole("button", { name: "Validate", exact: true }).waitFor();
  assert.equal(await page.getByRole("group", { name: "Operations" }).getByRole("button", { name: "Adopt drift" }).count(), 0);
  assert.equal(await page.getByRole("group", { name: "Operations" }).getByRole("button", { name: "Re-apply recorded" }).count(), 0);
  await tab.close();
});
