// The API key the web UI sends when the server runs with FOLIO_AUTH=required
// (or when an admin wants the admin view). Both pages load this script
// first; it exposes `window.FolioKey`.
//
// The key is kept for this tab only (sessionStorage) unless the user ticks
// "Remember on this device" (localStorage). It travels as `X-API-Key`, never
// in a URL, so it does not end up in logs or the browser history. That is
// also why server-sent events and downloads go through fetch() when a key is
// set: EventSource and plain links cannot send headers.
"use strict";

(function () {
  const NAME = "folio.apiKey";
  const $ = (s) => document.querySelector(s);

  function stored() {
    try {
      return sessionStorage.getItem(NAME) || localStorage.getItem(NAME) || "";
    } catch (_) {
      return "";
    }
  }

  let key = stored();

  function save(k, remember) {
    key = k.trim();
    try {
      sessionStorage.removeItem(NAME);
      localStorage.removeItem(NAME);
      if (key) (remember ? localStorage : sessionStorage).setItem(NAME, key);
    } catch (_) {
      /* storage disabled: the key lives until the page is closed */
    }
  }

  // Headers for a request: the caller's own plus the key, when there is one.
  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (key) h["X-API-Key"] = key;
    return h;
  }

  function fetchWithKey(url, opts) {
    const o = Object.assign({}, opts || {});
    o.headers = headers(o.headers);
    return fetch(url, o);
  }

  // The key panel: a <details id="key-panel"> on both pages.
  const panel = $("#key-panel");
  const form = $("#key-form");
  const input = $("#api-key");
  const remember = $("#key-remember");
  const status = $("#key-status");
  const forget = $("#key-forget");

  function showState() {
    if (!panel) return;
    status.textContent = key ? "A key is set; requests send it." : "No key set.";
    forget.hidden = !key;
  }

  // Open the panel and explain why (a 401 or 403 from the server).
  function ask(message) {
    if (!panel) return;
    panel.open = true;
    status.textContent = message;
    input.focus();
  }

  const listeners = [];
  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!input.value.trim()) {
        status.textContent = "Paste the key first.";
        input.focus();
        return;
      }
      save(input.value, remember.checked);
      input.value = "";
      showState();
      listeners.forEach((f) => f());
    });
    forget.addEventListener("click", () => {
      save("", false);
      showState();
      input.focus();
    });
    showState();
  }

  window.FolioKey = {
    get: () => key,
    headers,
    fetch: fetchWithKey,
    ask,
    // Called after a new key is saved (the admin page reloads its figures).
    onChange: (f) => listeners.push(f),
  };
})();
