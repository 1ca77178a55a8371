// Folio admin view: queue depth, jobs per minute, failures, storage, and the
// newest jobs with a Cancel button. Reads GET /v1/admin/stats and
// GET /v1/admin/jobs, cancels with DELETE /v1/jobs/{id}.
"use strict";

(function () {
  const $ = (s) => document.querySelector(s);
  const REFRESH_MS = 5000;
  const statusEl = $("#admin-status");

  function size(n) {
    if (n == null) return "?";
    if (n < 1000) return n + " bytes";
    if (n < 1e6) return (n / 1000).toFixed(1) + " KB";
    if (n < 1e9) return (n / 1e6).toFixed(1) + " MB";
    return (n / 1e9).toFixed(2) + " GB";
  }

  function when(ts) {
    if (!ts) return "–";
    const d = new Date(ts);
    return isNaN(d) ? ts : d.toLocaleString();
  }

  // `label` names the column on phones, where rows are stacked (style.css).
  function cell(tr, text, label) {
    const td = document.createElement("td");
    td.textContent = text == null ? "–" : String(text);
    if (label) td.dataset.label = label;
    tr.append(td);
    return td;
  }

  async function getJson(url) {
    const r = await window.FolioKey.fetch(url, { headers: { Accept: "application/json" } });
    const body = await r.json().catch(() => null);
    if (!r.ok) {
      const e = new Error((body && body.detail) || "the server answered " + r.status);
      e.status = r.status;
      throw e;
    }
    return body;
  }

  function showStats(s) {
    $("#s-queued").textContent = s.queue.queued;
    $("#s-running").textContent = s.queue.running;
    $("#s-rate").textContent = s.jobs.per_minute;
    $("#s-finished").textContent = s.jobs.finished + " (" + s.jobs.succeeded + " ok)";
    $("#s-failed").textContent = s.jobs.failed;
    $("#s-storage").textContent = size(s.storage.bytes) + " in " + s.storage.jobs + " jobs";

    const spark = $("#spark");
    spark.textContent = "";
    const counts = s.jobs.finished_per_minute || [];
    // At most 60 bars: merge minutes for long windows.
    const per = Math.max(1, Math.ceil(counts.length / 60));
    const bars = [];
    for (let i = 0; i < counts.length; i += per) {
      bars.push(counts.slice(i, i + per).reduce((a, b) => a + b, 0));
    }
    const max = Math.max(1, ...bars);
    for (const b of bars) {
      const bar = document.createElement("span");
      bar.className = "spark-bar";
      // Heights in steps of 10% through classes: the CSP forbids inline styles.
      bar.classList.add("h" + Math.round((10 * b) / max));
      spark.append(bar);
    }
    spark.setAttribute("aria-label", s.jobs.finished + " jobs finished in the window, at most " +
      Math.max(0, ...bars) + " per " + (per === 1 ? "minute" : per + " minutes"));

    $("#codes").textContent = s.failures.by_code.length
      ? "By code: " + s.failures.by_code.map((c) => c.code + " × " + c.count).join(", ")
      : "No failures in this window.";
    const tb = $("#failures");
    tb.textContent = "";
    for (const f of s.failures.recent) {
      const tr = document.createElement("tr");
      cell(tr, when(f.finished_at), "When");
      cell(tr, f.operation, "Operation");
      cell(tr, f.code, "Code").className = "code";
      cell(tr, f.message, "Message");
      tb.append(tr);
    }
  }

  function showJobs(jobs) {
    const tb = $("#job-rows");
    tb.textContent = "";
    if (!jobs.length) {
      const tr = document.createElement("tr");
      const td = cell(tr, "No jobs.");
      td.colSpan = 6;
      tb.append(tr);
    }
    for (const j of jobs) {
      const tr = document.createElement("tr");
      tr.dataset.id = j.id;
      cell(tr, when(j.timings && j.timings.queued_at), "Created");
      cell(tr, j.operation, "Operation");
      const st = cell(tr, j.status + (j.status === "running" ? " " + Math.round(100 * j.progress) + "%" : "") +
        (j.error ? " (" + j.error.code + ")" : "") + (j.cancel_requested && j.status === "running" ? ", stopping" : ""), "Status");
      st.className = "state state-" + j.status;
      cell(tr, (j.input.files.map((f) => f.name).join(", ") || "") + " · " + size(j.input.bytes), "Input");
      cell(tr, j.output ? size(j.output.bytes) : "–", "Output");
      const act = cell(tr, "");
      if (j.status === "queued" || j.status === "running") {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "secondary";
        b.textContent = "Cancel";
        b.setAttribute("aria-label", "Cancel job " + j.id + " (" + j.operation + ")");
        b.addEventListener("click", () => cancel(j, b));
        act.append(b);
      }
      tb.append(tr);
    }
  }

  async function cancel(job, button) {
    button.disabled = true;
    try {
      const r = await window.FolioKey.fetch("/v1/jobs/" + encodeURIComponent(job.id), { method: "DELETE" });
      const body = await r.json().catch(() => ({}));
      statusEl.textContent = r.ok
        ? "Job " + job.id + " (" + job.operation + ") is now " + body.status + "."
        : "Could not cancel: " + (body.detail || r.status);
    } catch (_) {
      statusEl.textContent = "Could not reach the server to cancel.";
    }
    refresh();
  }

  let busy = false;
  let asked = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const win = $("#window").value;
      const state = $("#state").value;
      const [stats, jobs] = await Promise.all([
        getJson("/v1/admin/stats?window=" + encodeURIComponent(win)),
        getJson("/v1/admin/jobs?limit=50&state=" + encodeURIComponent(state)),
      ]);
      showStats(stats);
      showJobs(jobs.jobs);
      $("#updated").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      document.body.dataset.loaded = "1";
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        statusEl.textContent = "Only an admin may see this page (" + e.message + ").";
        // Ask once; the periodic refresh must not steal the focus again.
        if (!asked) window.FolioKey.ask("Enter an admin key (folio keys create --admin) to open this page.");
        asked = true;
      } else {
        statusEl.textContent = "Could not load the figures: " + e.message;
      }
    } finally {
      busy = false;
    }
  }

  $("#refresh").addEventListener("click", refresh);
  window.FolioKey.onChange(() => {
    asked = false;
    statusEl.textContent = "";
    refresh();
  });
  $("#window").addEventListener("change", refresh);
  $("#state").addEventListener("change", refresh);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
