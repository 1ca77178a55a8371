// Helpers for the end-to-end tests: start the already-built `folio serve`
// on a free port with a temporary data directory, launch Debian's Chromium
// through playwright-core, find corpus files, and check PDFs with qpdf.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const screenshots = join(repo, "e2e", "screenshots");
mkdirSync(screenshots, { recursive: true });

/// The debug binary that `cargo test` built (this script builds nothing).
export function folioBinary() {
  if (process.env.FOLIO_BIN) return process.env.FOLIO_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "folio-target");
  const bin = join(target, "debug", "folio");
  if (!existsSync(bin)) {
    throw new Error(`${bin} not found: build it first (cargo build --workspace --locked), or set FOLIO_BIN`);
  }
  return bin;
}

/// Start `folio serve` on 127.0.0.1:0; resolves to { url, stop() }.
export async function startServer(env = {}) {
  const data = mkdtempSync(join(tmpdir(), "folio-e2e-"));
  const child = spawn(folioBinary(), ["serve", "--listen", "127.0.0.1:0", "--data-dir", join(data, "data")], {
    env: { ...process.env, FOLIO_LOG_FORMAT: "json", FOLIO_WORKERS: "2", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => {
    log += d;
  });
  const first = await new Promise((res, rej) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => rej(new Error("folio serve did not start in 30 s:\n" + log)), 30000);
    rl.once("line", (line) => {
      clearTimeout(timer);
      res(line);
    });
    child.once("exit", (code) => rej(new Error(`folio serve exited (${code}):\n${log}`)));
  });
  const m = /^folio listening on (http:\/\/\S+)/.exec(first.trim());
  if (!m) throw new Error("unexpected first line: " + first);
  return {
    url: m[1],
    dataDir: join(data, "data"),
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((res) => {
          const t = setTimeout(() => {
            child.kill("SIGKILL");
            res();
          }, 10000);
          child.once("exit", () => {
            clearTimeout(t);
            res();
          });
        });
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/// Run a `folio` subcommand against a server's data directory; its stdout.
export function folioCli(server, args) {
  return execFileSync(folioBinary(), [...args, "--data-dir", server.dataDir], {
    env: { ...process.env, FOLIO_LOG_FORMAT: "json" },
  }).toString().trim();
}

/// Headless Chromium from Debian (no browser download).
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  });
}

/// A corpus file under ../shared/corpus/dev.
export function corpus(rel) {
  for (let d = repo; ; d = dirname(d)) {
    const p = join(d, "shared", "corpus", "dev", rel);
    if (existsSync(p)) return p;
    if (dirname(d) === d) break;
  }
  throw new Error(`corpus file ${rel} not found above ${repo}`);
}

/// qpdf --check passes (exit 0, or 3 = warnings only).
export function qpdfOk(path) {
  try {
    execFileSync("qpdf", ["--check", path], { stdio: "pipe" });
    return true;
  } catch (e) {
    return e.status === 3;
  }
}

export function pageCount(path) {
  return Number(execFileSync("qpdf", ["--show-npages", path]).toString().trim());
}

export function readHead(path, n = 5) {
  return readFileSync(path).subarray(0, n).toString("latin1");
}

/// A page that records console errors and CSP violations.
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(m.text());
  });
  page.on("pageerror", (e) => page.errors.push(String(e)));
  return page;
}

export function shot(page, name) {
  return page.screenshot({ path: join(screenshots, name + ".png"), fullPage: true });
}
