// The web UI end to end in real headless Chromium, against the real
// `folio serve` binary. Screenshots of each step go to e2e/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import {
  startServer, launchBrowser, newPage, shot, corpus, qpdfOk, pageCount, readHead,
} from "../lib/folio.mjs";

// Compresses well (one 1.9 MB Flate photo; the balanced level re-encodes it).
const COMPRESSIBLE = corpus("pdf/pdfcpu__mountain.pdf");
// Needs its user password to open at all.
const ENCRYPTED = corpus("pdf/pysample__libreoffice-writer-password.pdf");
const ENCRYPTED_PASSWORD = "openpassword";
const IMAGES = [corpus("images/deb__FreshFlower.jpg"), corpus("images/skimage__astronaut.png")];
const JOB_TIMEOUT = 120_000;

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

/// No script error and no Content-Security-Policy violation on the page.
function assertClean(page) {
  const bad = page.errors.filter((e) => /Content Security Policy|Uncaught|TypeError|ReferenceError/.test(e));
  assert.deepEqual(bad, [], "page errors: " + bad.join("\n"));
}

async function chooseAndStart(page, op, files) {
  await page.selectOption("#operation", op);
  await page.setInputFiles("#files", files);
  await page.click("#start");
}

test("compress a PDF: upload, live progress, report, thumbnails, download", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "/");
  await assert.doesNotReject(page.waitForSelector("#files"));
  await shot(page, "01-compress-empty");
  await page.selectOption("#operation", "compress");
  await page.setInputFiles("#files", COMPRESSIBLE);
  assert.match(await page.textContent("#file-list"), /pdfcpu__mountain\.pdf/);
  await shot(page, "02-compress-chosen");
  await page.click("#start");
  const job = page.locator("#jobs .job").first();
  await job.locator(".job-status").filter({ hasText: /Uploading|queue|Working|Done/ }).waitFor();
  await shot(page, "03-compress-running");
  await job.locator("a.download").waitFor({ timeout: JOB_TIMEOUT });
  const status = await job.locator(".job-status").textContent();
  // "1.91 MB → 82.1 KB (96% smaller). 1 page. Took 4.1 s."
  assert.match(status, /MB → .*\((\d+)% smaller\)/, status);
  assert.match(status, /1 page/, status);
  assert.match(status, /Took /, status);
  assert.equal(await job.locator("progress.up").evaluate((p) => p.value), 1);
  assert.equal(await job.locator("progress.work").evaluate((p) => p.value), 1);
  // Before/after thumbnails, rendered by the server.
  await job.locator(".thumbs:not([hidden])").waitFor({ timeout: JOB_TIMEOUT });
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#jobs .job .thumbs img")].every((i) => i.complete && i.naturalWidth > 0));
  await shot(page, "04-compress-done");

  const [download] = await Promise.all([page.waitForEvent("download"), job.locator("a.download").click()]);
  const path = await download.path();
  assert.equal(readHead(path), "%PDF-");
  const before = statSync(COMPRESSIBLE).size;
  const after = statSync(path).size;
  assert.ok(after < before, `result ${after} bytes is not smaller than ${before}`);
  assert.ok(qpdfOk(path), "qpdf --check fails on the result");
  assert.match(download.suggestedFilename(), /\.pdf$/);
  assertClean(page);
  await page.context().close();
});

test("images to PDF with two images", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "/");
  await page.selectOption("#operation", "images-to-pdf");
  assert.equal(await page.isVisible('fieldset[data-op="images-to-pdf"]'), true);
  assert.equal(await page.isVisible('fieldset[data-op="compress"]'), false);
  await page.setInputFiles("#files", IMAGES);
  await shot(page, "05-images-chosen");
  await page.click("#start");
  const jobs = page.locator("#jobs .job");
  const job = jobs.first();
  await job.locator("a.download").waitFor({ timeout: JOB_TIMEOUT });
  assert.equal(await jobs.count(), 1, "several images make one job");
  assert.match(await job.locator(".job-name").textContent(), /2 files/);
  assert.match(await job.locator(".job-status").textContent(), /2 pages/);
  await shot(page, "06-images-done");
  const [download] = await Promise.all([page.waitForEvent("download"), job.locator("a.download").click()]);
  const path = await download.path();
  assert.equal(readHead(path), "%PDF-");
  assert.ok(qpdfOk(path));
  assert.equal(pageCount(path), 2);
  assertClean(page);
  await page.context().close();
});

test("a batch of PDFs gets one job and one download per file", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "/");
  await chooseAndStart(page, "rotate", [corpus("pdf/pdf20__Simple_PDF_2.0_file.pdf"), corpus("pdf/ocrmypdf__epson.pdf")]);
  const jobs = page.locator("#jobs .job");
  assert.equal(await jobs.count(), 2);
  await jobs.nth(0).locator("a.download").waitFor({ timeout: JOB_TIMEOUT });
  await jobs.nth(1).locator("a.download").waitFor({ timeout: JOB_TIMEOUT });
  assert.match(await page.textContent("#form-status"), /2 jobs/);
  await shot(page, "07-batch-done");
  assertClean(page);
  await page.context().close();
});

test("an encrypted PDF asks for its password, then succeeds", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "/");
  await chooseAndStart(page, "compress", ENCRYPTED);
  const job = page.locator("#jobs .job").first();
  const pw = job.locator("form.password");
  await pw.waitFor({ state: "visible", timeout: JOB_TIMEOUT });
  assert.match(await job.locator(".job-status").textContent(), /protected by a password/);
  // The password field gets the focus, so the user can type at once.
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.type), "password");
  await shot(page, "08-encrypted-asks-password");

  await pw.locator("input").fill("not-the-password");
  await pw.locator("button").click();
  await job.locator(".job-status").filter({ hasText: /did not open/ }).waitFor({ timeout: JOB_TIMEOUT });
  assert.equal(await pw.isVisible(), true, "asked again after a wrong password");
  await shot(page, "09-encrypted-wrong-password");

  await pw.locator("input").fill(ENCRYPTED_PASSWORD);
  await pw.locator("button").click();
  await job.locator("a.download").waitFor({ timeout: JOB_TIMEOUT });
  assert.match(await job.locator(".job-status").textContent(), /Done/);
  await shot(page, "10-encrypted-done");
  const [download] = await Promise.all([page.waitForEvent("download"), job.locator("a.download").click()]);
  const path = await download.path();
  assert.equal(readHead(path), "%PDF-");
  assert.ok(qpdfOk(path));
  assertClean(page);
  await page.context().close();
});

test("a wrong file type is explained in plain words", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "/");
  await chooseAndStart(page, "compress", IMAGES[0]);
  const job = page.locator("#jobs .job").first();
  await job.locator(".job-status").filter({ hasText: /not of the right type/ }).waitFor({ timeout: JOB_TIMEOUT });
  assert.match(await job.locator(".job-status").textContent(), /Images to PDF/);
  await shot(page, "11-wrong-type");
  await page.context().close();
});

test("a file over the upload limit is explained in plain words", async () => {
  const small = await startServer({ FOLIO_MAX_UPLOAD_BYTES: "100000" });
  try {
    const page = await newPage(browser);
    await page.goto(small.url + "/");
    await chooseAndStart(page, "compress", COMPRESSIBLE);
    const job = page.locator("#jobs .job").first();
    await job.locator(".job-status").filter({ hasText: /larger than this server accepts/ }).waitFor({ timeout: JOB_TIMEOUT });
    assert.match(await job.locator(".job-status").textContent(), /limit of 100 KB/);
    await shot(page, "12-too-large");
    await page.context().close();
  } finally {
    await small.stop();
  }
});

test("admin page shows the figures of the jobs above", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "/admin");
  await page.waitForSelector("body[data-loaded]");
  const num = async (id) => Number((await page.textContent(id)).split(" ")[0]);
  // Two failed runs of the encrypted PDF (no password, wrong password).
  assert.ok((await num("#s-failed")) >= 2, "failed count");
  assert.ok((await num("#s-finished")) >= 5, "finished count");
  assert.match(await page.textContent("#s-storage"), /(KB|MB) in \d+ jobs/);
  assert.match(await page.textContent("#codes"), /encrypted × 1/);
  assert.match(await page.textContent("#codes"), /wrong_password × 1/);
  assert.ok((await page.locator("#failures tr").count()) >= 2);
  assert.ok((await page.locator("#job-rows tr").count()) >= 6);
  await shot(page, "13-admin");
  assertClean(page);
  await page.context().close();
});

test("admin can cancel a queued job", async () => {
  // No workers: a submitted job stays queued until cancelled.
  const idle = await startServer({ FOLIO_WORKERS: "0" });
  try {
    const fd = new FormData();
    fd.append("file", new Blob([Buffer.from("%PDF-1.4\n%%EOF\n")]), "queued.pdf");
    const r = await fetch(idle.url + "/v1/compress", { method: "POST", body: fd, headers: { Prefer: "respond-async" } });
    assert.equal(r.status, 202);
    const { id } = await r.json();
    const page = await newPage(browser);
    await page.goto(idle.url + "/admin");
    await page.waitForSelector("body[data-loaded]");
    assert.equal(await page.textContent("#s-queued"), "1");
    const row = page.locator(`#job-rows tr[data-id="${id}"]`);
    assert.match(await row.textContent(), /queued/);
    await shot(page, "14-admin-queued");
    await row.getByRole("button", { name: /Cancel/ }).click();
    await page.locator("#admin-status").filter({ hasText: /now cancelled/ }).waitFor();
    await page.waitForFunction(() => document.querySelector("#s-queued").textContent === "0");
    const job = await (await fetch(`${idle.url}/v1/jobs/${id}`)).json();
    assert.equal(job.status, "cancelled");
    await shot(page, "15-admin-cancelled");
    assertClean(page);
    await page.context().close();
  } finally {
    await idle.stop();
  }
});

test("phone width: no horizontal scroll; the keyboard reaches the file input", async () => {
  const page = await newPage(browser, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  for (const path of ["/", "/admin"]) {
    await page.goto(server.url + path);
    if (path === "/admin") await page.waitForSelector("body[data-loaded]");
    // A job card with long names must fit too.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 375px`);
    await shot(page, path === "/" ? "16-phone-index" : "16-phone-admin");
  }
  await page.goto(server.url + "/");
  await chooseAndStart(page, "compress", corpus("pdf/pdf20__Simple_PDF_2.0_file.pdf"));
  await page.locator("#jobs .job a.download").waitFor({ timeout: JOB_TIMEOUT });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `a finished job scrolls sideways by ${overflow}px`);
  await shot(page, "17-phone-job");

  // Keyboard: Tab from the top reaches the file input within a few steps,
  // and the drop zone shows where the focus is.
  const kb = await newPage(browser);
  await kb.goto(server.url + "/");
  let reached = false;
  for (let i = 0; i < 8 && !reached; i++) {
    await kb.keyboard.press("Tab");
    reached = await kb.evaluate(() => document.activeElement && document.activeElement.id === "files");
  }
  assert.ok(reached, "Tab never reached the file input");
  const outline = await kb.evaluate(() => getComputedStyle(document.querySelector("#drop")).outlineStyle);
  assert.notEqual(outline, "none", "the focused drop zone has no visible outline");
  // The input has a label, and the operation select too.
  assert.equal(await kb.evaluate(() => document.querySelector("#files").labels.length), 1);
  assert.equal(await kb.evaluate(() => document.querySelector("#operation").labels.length), 1);
  await shot(kb, "18-keyboard-focus");
  await page.context().close();
  await kb.context().close();
});
