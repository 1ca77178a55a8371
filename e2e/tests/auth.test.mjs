// The web UI against a server that requires API keys (FOLIO_AUTH=required):
// the UI asks for a key, sends it as a header (never in a URL), follows the
// job and downloads the result with it; /admin opens only with an admin key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import {
  startServer, launchBrowser, newPage, shot, corpus, qpdfOk, readHead, folioCli,
} from "../lib/folio.mjs";

const COMPRESSIBLE = corpus("pdf/pdfcpu__mountain.pdf");
const JOB_TIMEOUT = 120_000;

let server;
let browser;
let userKey;
let adminKey;

before(async () => {
  server = await startServer({ FOLIO_AUTH: "required" });
  userKey = folioCli(server, ["keys", "create", "--name", "e2e-user"]);
  adminKey = folioCli(server, ["keys", "create", "--name", "e2e-admin", "--admin"]);
  assert.match(userKey, /^folio_[0-9a-f]{64}$/);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

/// Every URL the page requested, to check that no key travels in one.
function recordUrls(page) {
  const urls = [];
  page.on("request", (r) => urls.push(r.url()));
  return urls;
}

async function useKey(page, key) {
  await page.fill("#api-key", key);
  await page.click('#key-form button[type="submit"]');
  await page.locator("#key-status").filter({ hasText: /A key is set/ }).waitFor();
}

test("with keys required, the UI asks for one, then compresses and downloads with it", async () => {
  const page = await newPage(browser);
  const urls = recordUrls(page);
  await page.goto(server.url + "/");
  assert.equal(await page.evaluate(() => document.querySelector("#key-panel").open), false);

  await page.setInputFiles("#files", COMPRESSIBLE);
  await page.click("#start");
  const first = page.locator("#jobs .job").first();
  await first.locator(".job-status").filter({ hasText: /needs a valid API key/ }).waitFor({ timeout: JOB_TIMEOUT });
  assert.equal(await page.evaluate(() => document.querySelector("#key-panel").open), true);
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "api-key");
  await shot(page, "20-auth-asks-key");

  await useKey(page, userKey);
  await page.setInputFiles("#files", COMPRESSIBLE);
  await page.click("#start");
  const job = page.locator("#jobs .job").first();
  await job.locator("a.download").waitFor({ timeout: JOB_TIMEOUT });
  assert.match(await job.locator(".job-status").textContent(), /% smaller/);
  assert.equal(await job.locator("progress.work").evaluate((p) => p.value), 1);
  await shot(page, "21-auth-done");

  const [download] = await Promise.all([page.waitForEvent("download"), job.locator("a.download").click()]);
  const path = await download.path();
  assert.equal(readHead(path), "%PDF-");
  assert.ok(statSync(path).size < statSync(COMPRESSIBLE).size, "the result is not smaller");
  assert.ok(qpdfOk(path), "qpdf --check fails on the result");
  // The thumbnails (POST /v1/render with the key) came through too.
  await job.locator(".thumbs:not([hidden])").waitFor({ timeout: JOB_TIMEOUT });

  const secret = userKey.slice("folio_".length);
  assert.deepEqual(urls.filter((u) => u.includes(secret)), [], "the key appeared in a URL");
  await page.context().close();
});

test("with keys required, /admin opens only with an admin key", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "/admin");
  await page.locator("#admin-status").filter({ hasText: /Only an admin/ }).waitFor();
  assert.equal(await page.evaluate(() => document.querySelector("#key-panel").open), true);
  assert.equal(await page.textContent("#s-queued"), "–", "figures shown without a key");

  // A key that is not an admin's is refused (403) and the page asks again.
  await page.fill("#api-key", userKey);
  await page.click('#key-form button[type="submit"]');
  await page.locator("#key-status").filter({ hasText: /admin key/ }).waitFor();
  assert.equal(await page.textContent("#s-queued"), "–");
  await shot(page, "22-admin-needs-admin-key");

  await useKey(page, adminKey);
  await page.waitForSelector("body[data-loaded]");
  assert.ok(Number((await page.textContent("#s-finished")).split(" ")[0]) >= 1, "finished count");
  assert.ok((await page.locator("#job-rows tr").count()) >= 1);
  await shot(page, "23-admin-with-admin-key");
  await page.context().close();
});
