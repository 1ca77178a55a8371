// Folio web UI: choose files and an operation, upload with progress, follow
// each job live (server-sent events), then show the report and a download.
// Plain JavaScript, no build step; served from the binary under a strict
// Content-Security-Policy (so no inline code and no innerHTML of server text).
"use strict";

(function () {
  const OPS = {
    compress: { perFile: true, kind: "pdf", help: "Each PDF becomes its own smaller PDF." },
    merge: { perFile: false, kind: "pdf", help: "All PDFs are joined, in the order shown, into one PDF." },
    "images-to-pdf": { perFile: false, kind: "image", help: "JPEG, PNG or TIFF images become one PDF, one page each, in the order shown." },
    split: { perFile: true, kind: "pdf", help: "Keep some pages, or cut the PDF into parts (several parts come as a zip)." },
    rotate: { perFile: true, kind: "pdf", help: "Turn all pages, or only some." },
    text: { perFile: true, kind: "pdf", help: "Get the text of each PDF as a .txt file." },
    render: { perFile: true, kind: "pdf", help: "Get one page of each PDF as a PNG image." },
  };
  // Thumbnails are rendered by the server; skip them for very large files
  // (the result would have to be downloaded and sent back).
  const THUMB_MAX_BYTES = 50 * 1000 * 1000;

  const $ = (sel, root) => (root || document).querySelector(sel);
  const form = $("#job-form");
  const input = $("#files");
  const drop = $("#drop");
  const list = $("#file-list");
  const clearBtn = $("#clear-files");
  const opSelect = $("#operation");
  const formStatus = $("#form-status");
  const jobsList = $("#jobs");
  const template = $("#job-template");
  const key = window.FolioKey;
  let chosen = [];

  // ---------- plain words ----------

  function size(n) {
    if (n == null || isNaN(n)) return "?";
    if (n < 1000) return n + " bytes";
    if (n < 1000 * 1000) return (n / 1000).toFixed(n < 10000 ? 1 : 0) + " KB";
    if (n < 1000 * 1000 * 1000) return (n / 1e6).toFixed(n < 1e7 ? 2 : 1) + " MB";
    return (n / 1e9).toFixed(2) + " GB";
  }

  function duration(ms) {
    if (ms == null) return "";
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  // What went wrong and what to do, from the problem document's `code`.
  function explain(code, detail, extra) {
    const d = detail ? " (" + detail + ")" : "";
    switch (code) {
      case "unsupported_file_type":
        return "This file is not of the right type for this operation" + d +
          ". Choose a PDF, or for pictures pick “Images to PDF”.";
      case "payload_too_large": {
        const lim = extra && extra.limit ? " of " + size(extra.limit) : "";
        return "The upload is larger than this server accepts (limit" + lim +
          "). Send fewer files at once, or split the PDF first.";
      }
      case "encrypted":
        return "This PDF is protected by a password. Enter the password below to open it.";
      case "wrong_password":
        return "That password did not open the PDF. Check it (capital letters count) and try again.";
      case "invalid_pdf":
        return "This file is damaged or is not a real PDF" + d +
          ". Try saving it again from the program that made it (for example with “Print to PDF”).";
      case "unsupported_image":
        return "This image cannot be read" + d + ". Save it as JPEG or PNG and try again.";
      case "unsupported_feature":
        return "This document uses something Folio cannot handle yet" + d + ".";
      case "limit_exceeded":
        return "The document is larger than this server handles" + d +
          ". Try a smaller file, or split it first.";
      case "page_out_of_range":
        return "The page numbers go past the end of the document" + d + ". Check the pages option.";
      case "invalid_options":
        return "One of the options is not valid" + d + ". Check the options and start again.";
      case "missing_file":
      case "empty_file":
      case "too_many_files":
        return (detail || "Check the files") + ".";
      case "timeout":
        return "This took too long and was stopped. Try a lighter setting or a smaller file.";
      case "crashed":
        return "Processing stopped unexpectedly on this file; it may be damaged. Try another copy.";
      case "cancelled":
        return "Cancelled.";
      case "unauthorized":
      case "invalid_api_key":
        return "This server needs a valid API key. Enter it under “API key” above, then start again.";
      case "rate_limited":
        return "Too many requests for now. Wait a few seconds and start again.";
      case "too_many_jobs":
        return "This key already has as many jobs running as it may. Wait for them to finish, then start again.";
      case "network":
        return "The server could not be reached. Check the connection and try again.";
      default:
        return "Something went wrong" + d + ". If it happens again, tell the admin (code " +
          (code || "unknown") + ").";
    }
  }

  // ---------- choosing files ----------

  function renderList() {
    list.textContent = "";
    chosen.forEach((f, i) => {
      const li = document.createElement("li");
      li.textContent = f.name + " (" + size(f.size) + ")";
      const rm = document.createElement("button");
      rm.type = "button";
      rm.className = "link";
      rm.textContent = "Remove";
      rm.setAttribute("aria-label", "Remove " + f.name);
      rm.addEventListener("click", () => {
        chosen.splice(i, 1);
        renderList();
        input.focus();
      });
      li.append(" ", rm);
      list.append(li);
    });
    clearBtn.hidden = chosen.length === 0;
    formStatus.textContent = chosen.length ? plural(chosen.length, "file") + " chosen." : "";
  }

  function addFiles(files) {
    for (const f of files) chosen.push(f);
    renderList();
  }

  input.addEventListener("change", () => {
    addFiles(input.files);
    // Reset so choosing the same file again still fires `change`.
    input.value = "";
  });
  clearBtn.addEventListener("click", () => {
    chosen = [];
    renderList();
    input.focus();
  });
  ["dragenter", "dragover"].forEach((t) =>
    drop.addEventListener(t, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    }),
  );
  ["dragleave", "drop"].forEach((t) =>
    drop.addEventListener(t, () => drop.classList.remove("over")),
  );
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files);
  });

  // ---------- options ----------

  function showOptions() {
    const op = opSelect.value;
    document.querySelectorAll("fieldset.opts").forEach((fs) => {
      fs.hidden = fs.dataset.op !== op;
    });
    $("#op-help").textContent = OPS[op].help;
  }
  opSelect.addEventListener("change", showOptions);
  showOptions();

  const val = (id) => $("#" + id).value.trim();

  // The form fields the API expects, named like the CLI flags.
  function options(op) {
    const o = {};
    const set = (k, v) => {
      if (v !== "" && v != null) o[k] = v;
    };
    if (op === "compress") {
      set("level", val("level"));
      const mb = parseFloat(val("target_size"));
      if (!isNaN(mb) && mb > 0) o.target_size = String(Math.round(mb * 1e6));
    } else if (op === "images-to-pdf") {
      set("page_size", val("page_size"));
      set("margin", val("margin"));
    } else if (op === "split") {
      set("pages", val("split_pages"));
      set("every", val("every"));
    } else if (op === "rotate") {
      set("angle", val("angle"));
      set("pages", val("rotate_pages"));
    } else if (op === "text") {
      set("pages", val("text_pages"));
    } else if (op === "render") {
      set("page", val("page"));
      set("dpi", val("dpi"));
    }
    return o;
  }

  // ---------- jobs ----------

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const op = opSelect.value;
    if (!chosen.length) {
      formStatus.textContent = "Choose at least one file first.";
      input.focus();
      return;
    }
    if (op === "merge" && chosen.length < 2) {
      formStatus.textContent = "Merging needs two or more PDFs. Add more files.";
      input.focus();
      return;
    }
    const opts = options(op);
    const groups = OPS[op].perFile ? chosen.map((f) => [f]) : [chosen.slice()];
    groups.forEach((files) => new JobCard(op, opts, files).start());
    chosen = [];
    renderList();
    formStatus.textContent = groups.length > 1
      ? "Started " + plural(groups.length, "job") + ", one per file."
      : "Started.";
  });

  class JobCard {
    constructor(op, opts, files) {
      this.op = op;
      this.opts = opts;
      this.files = files;
      this.el = template.content.firstElementChild.cloneNode(true);
      this.q = (s) => this.el.querySelector(s);
      this.q(".job-name").textContent = files.length === 1
        ? files[0].name
        : plural(files.length, "file") + ": " + files.map((f) => f.name).join(", ");
      this.q(".job-op").textContent = opSelect.querySelector('option[value="' + op + '"]')
        .textContent.split(":")[0];
      this.status = this.q(".job-status");
      this.pwForm = this.q("form.password");
      this.pwForm.addEventListener("submit", (e) => {
        e.preventDefault();
        const pw = this.pwForm.elements.password.value;
        if (!pw) return;
        this.pwForm.hidden = true;
        this.opts = Object.assign({}, this.opts, { password: pw });
        this.start();
      });
      $("#no-jobs").hidden = true;
      jobsList.prepend(this.el);
    }

    say(text, kind) {
      this.status.textContent = text;
      this.el.classList.remove("ok", "bad", "busy");
      if (kind) this.el.classList.add(kind);
    }

    start() {
      this.done = false;
      this.q(".job-report").textContent = "";
      this.q(".job-actions").textContent = "";
      this.q(".up").value = 0;
      this.q(".work").value = 0;
      this.say("Uploading…", "busy");
      const fd = new FormData();
      for (const [k, v] of Object.entries(this.opts)) fd.append(k, v);
      for (const f of this.files) fd.append("file", f, f.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/" + this.op);
      xhr.setRequestHeader("Prefer", "respond-async");
      for (const [k, v] of Object.entries(key.headers())) xhr.setRequestHeader(k, v);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) {
          this.q(".up").value = e.loaded / e.total;
          this.say("Uploading… " + Math.round((100 * e.loaded) / e.total) + "%", "busy");
        }
      });
      xhr.addEventListener("load", () => {
        this.q(".up").value = 1;
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (_) {
          /* not JSON: handled below */
        }
        if (xhr.status === 202 && body && body.id) {
          this.job = body;
          this.follow(body.id);
        } else if (body && body.code) {
          this.fail(body.code, body.detail, body);
        } else {
          this.fail("http_" + xhr.status, "the server answered " + xhr.status);
        }
      });
      xhr.addEventListener("error", () => this.fail("network"));
      xhr.send(fd);
    }

    follow(id) {
      this.say("Waiting in the queue…", "busy");
      this.addCancel(id);
      const url = "/v1/jobs/" + encodeURIComponent(id) + "/events";
      // Returns true once the job has ended.
      const onEvent = (e) => {
        let ev;
        try {
          ev = JSON.parse(e.data);
        } catch (_) {
          return false;
        }
        if (typeof ev.progress === "number") this.q(".work").value = ev.progress;
        if (e.type === "progress" || ev.state === "running") {
          this.say("Working… " + Math.round(100 * (ev.progress || 0)) + "%", "busy");
        } else if (ev.state === "queued") {
          this.say("Waiting in the queue…", "busy");
        }
        if (["succeeded", "failed", "cancelled"].includes(ev.state)) {
          if (this.es) this.es.close();
          this.finish(id);
          return true;
        }
        return false;
      };
      // EventSource cannot send the key header: read the stream with fetch.
      if (key.get() && window.ReadableStream && window.TextDecoder) {
        return streamEvents(url, onEvent).then((ended) => {
          if (!ended && !this.done) this.poll(id);
        });
      }
      if (!window.EventSource) return this.poll(id);
      const es = new EventSource(url);
      this.es = es;
      es.addEventListener("progress", onEvent);
      es.addEventListener("state", onEvent);
      // If the stream breaks (proxy, network), fall back to polling.
      es.addEventListener("error", () => {
        if (es.readyState === EventSource.CLOSED && !this.done) this.poll(id);
      });
    }

    async poll(id) {
      while (!this.done) {
        try {
          const r = await key.fetch("/v1/jobs/" + encodeURIComponent(id));
          const j = await r.json();
          if (typeof j.progress === "number") this.q(".work").value = j.progress;
          if (["succeeded", "failed", "cancelled"].includes(j.status)) return this.finish(id);
        } catch (_) {
          /* try again */
        }
        await new Promise((res) => setTimeout(res, 1000));
      }
    }

    addCancel(id) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary cancel";
      b.textContent = "Cancel";
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          await key.fetch("/v1/jobs/" + encodeURIComponent(id), { method: "DELETE" });
        } catch (_) {
          b.disabled = false;
        }
      });
      this.q(".job-actions").append(b);
    }

    async finish(id) {
      if (this.done) return;
      this.done = true;
      if (this.es) this.es.close();
      let job;
      try {
        job = await (await key.fetch("/v1/jobs/" + encodeURIComponent(id))).json();
      } catch (_) {
        return this.fail("network");
      }
      this.q(".job-actions").textContent = "";
      if (job.status === "succeeded") return this.succeed(job);
      if (job.status === "cancelled") return this.fail("cancelled");
      const err = job.error || {};
      this.fail(err.code, err.message);
    }

    succeed(job) {
      this.q(".work").value = 1;
      const r = job.report || {};
      const out = job.output || {};
      const parts = [];
      const before = r.bytes_in != null ? r.bytes_in : job.input && job.input.bytes;
      const after = r.bytes_out != null ? r.bytes_out : out.bytes;
      if (this.op === "compress") {
        if (r.kept_original) {
          parts.push("Already as small as Folio can make it: you get the original back (" + size(before) + ").");
        } else {
          const saved = before ? Math.round(100 * (1 - after / before)) : 0;
          parts.push(size(before) + " → " + size(after) + " (" + saved + "% smaller).");
        }
      } else {
        parts.push(size(before) + " in, " + size(after) + " out.");
      }
      if (r.pages_in && r.pages_out && r.pages_out !== r.pages_in) {
        parts.push(plural(r.pages_in, "page") + " in, " + plural(r.pages_out, "page") + " out.");
      } else if (r.pages_in || r.pages_out) {
        parts.push(plural(r.pages_in || r.pages_out, "page") + ".");
      }
      if (out.files && out.files.length > 1) parts.push(plural(out.files.length, "file") + " in a zip.");
      const ms = r.elapsed_ms != null ? r.elapsed_ms : job.timings && job.timings.run_ms;
      if (ms != null) parts.push("Took " + duration(ms) + ".");
      this.say("Done. " + parts.join(" "), "ok");
      const report = this.q(".job-report");
      if (Array.isArray(r.notes) && r.notes.length) {
        const ul = document.createElement("ul");
        ul.className = "notes";
        for (const n of r.notes) {
          const li = document.createElement("li");
          li.textContent = n;
          ul.append(li);
        }
        report.append(ul);
      }
      if (job.links && job.links.result) {
        const a = document.createElement("a");
        a.href = job.links.result;
        a.className = "button download";
        a.setAttribute("download", out.name || "");
        a.textContent = "Download " + (out.name || "the result") + " (" + size(out.bytes) + ")";
        if (key.get()) downloadWithKey(a, job.links.result);
        this.q(".job-actions").append(a);
        if (this.op === "compress" && !r.kept_original && this.files[0].size <= THUMB_MAX_BYTES) {
          this.thumbnails(job.links.result);
        }
      }
    }

    fail(code, detail, extra) {
      this.done = true;
      if (this.es) this.es.close();
      this.q(".job-actions").textContent = "";
      this.say(explain(code, detail, extra), code === "cancelled" ? "" : "bad");
      if (code === "unauthorized" || code === "invalid_api_key") {
        key.ask("This server needs an API key: paste yours here.");
      }
      if (code === "encrypted" || code === "wrong_password") {
        this.pwForm.hidden = false;
        const pw = this.pwForm.elements.password;
        pw.value = "";
        pw.focus();
      }
    }

    // First page before and after, side by side, rendered by the server.
    async thumbnails(resultUrl) {
      const box = this.q(".thumbs");
      const imgs = box.querySelectorAll("img");
      try {
        const result = await (await key.fetch(resultUrl)).blob();
        const urls = await Promise.all([
          render(this.files[0], "thumbnail-before.pdf", this.opts.password),
          render(result, "thumbnail-after.pdf"),
        ]);
        if (!urls[0] || !urls[1]) return;
        imgs[0].src = urls[0];
        imgs[1].src = urls[1];
        box.hidden = false;
      } catch (_) {
        /* thumbnails are a nicety: leave them out */
      }
    }
  }

  // POST /v1/render for page 1 at a small resolution; an object URL of the PNG.
  // The file names tell the admin view what these jobs were for.
  async function render(blob, name, password) {
    const fd = new FormData();
    fd.append("page", "1");
    fd.append("dpi", "30");
    if (password) fd.append("password", password);
    fd.append("file", blob, name);
    const r = await key.fetch("/v1/render", { method: "POST", body: fd, headers: { Prefer: "wait=30" } });
    if (r.status !== 200) return null;
    return URL.createObjectURL(await r.blob());
  }

  // Server-sent events read with fetch, so the key header can go along.
  // Calls onEvent({type, data}) per event until it returns true; resolves
  // to whether it did (false: the stream ended or broke first).
  async function streamEvents(url, onEvent) {
    let r;
    try {
      r = await key.fetch(url, { headers: { Accept: "text/event-stream" } });
    } catch (_) {
      return false;
    }
    if (!r.ok || !r.body) return false;
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const ev = { type: "message", data: "" };
          const data = [];
          for (const line of block.split("\n")) {
            const i = line.indexOf(":");
            if (i === 0) continue; // a comment (keep-alive)
            const field = i < 0 ? line : line.slice(0, i);
            const v = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
            if (field === "event") ev.type = v;
            else if (field === "data") data.push(v);
          }
          ev.data = data.join("\n");
          if (data.length && onEvent(ev)) {
            reader.cancel().catch(() => {});
            return true;
          }
        }
      }
    } catch (_) {
      return false;
    }
  }

  // A plain link cannot send the key: fetch the result on the first click,
  // then point the link at the downloaded copy and click it again.
  function downloadWithKey(a, url) {
    a.addEventListener("click", async function once(e) {
      e.preventDefault();
      a.removeEventListener("click", once);
      a.setAttribute("aria-busy", "true");
      try {
        const r = await key.fetch(url);
        if (!r.ok) throw new Error(String(r.status));
        a.href = URL.createObjectURL(await r.blob());
        a.removeAttribute("aria-busy");
        a.click();
      } catch (_) {
        a.removeAttribute("aria-busy");
        a.addEventListener("click", once);
        a.textContent = "Download failed: try again";
      }
    });
  }
})();
