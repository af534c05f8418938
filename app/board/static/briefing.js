/* Yingji incident page: PDF briefings and the closing report (and the complaint centre's weekly summary).
 *
 * A link a[data-briefing] (简报 PDF, 工作总结 PDF, 本周投诉汇总 PDF) opens a new tab at once (so no popup
 * blocker stops it), asks the API for the briefing without waiting (Accept: application/json,
 * Prefer: respond-async), polls its status until it is stored, and then shows the stored PDF
 * in that tab. Without script the link itself works: the server waits for the PDF.
 *
 * The handling-summary forms (#closing) are shown by the incident's status (active or ended) and the
 * closing report's status (none/returned: the form to submit; submitted: approve or return),
 * which the page's live section [data-live="closing-status"] carries; incident.js swaps that
 * section in when something changes, and this script follows.
 */
(function () {
  "use strict";

  var YJ = window.YJ;
  var POLL_MS = 700, POLL_LIMIT = 120;

  function getJson(url, asyncPlease) {
    var headers = { "Accept": "application/json" };
    if (asyncPlease) headers["Prefer"] = "respond-async";
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { ok: res.ok, status: res.status, data: data };
      });
    }, function () {
      return { ok: false, status: 0, data: { error: { message: "网络连接失败，请检查网络后重试" } } };
    });
  }

  function message(win, text) {
    try {
      win.document.title = "简报";
      win.document.body.style.font = "16px sans-serif";
      win.document.body.style.margin = "3rem";
      win.document.body.textContent = text;
    } catch (e) { /* the tab already left for the PDF */ }
  }

  function fail(win, link, text) {
    if (win && !win.closed) message(win, text);
    YJ.banner({ id: "briefing", kind: "warn", title: link.textContent.trim() + " 未能生成", text: text });
  }

  function open(link) {
    var win = window.open("", "_blank");
    if (win) message(win, "正在生成" + link.textContent.trim() + "，请稍候…");
    var tries = 0;
    function follow(res) {
      var b = res.data && res.data.briefing;
      if (!res.ok || !b) {
        fail(win, link, (res.data && res.data.error && res.data.error.message) || "服务器返回错误，请稍后重试");
        return;
      }
      if (b.status === "ready") {
        if (win && !win.closed) win.location.href = b.pdf_url;
        else window.location.href = b.pdf_url;
        return;
      }
      if (b.status === "failed" || ++tries > POLL_LIMIT) {
        fail(win, link, b.error || "生成时间过长，请稍后在简报列表中查看");
        return;
      }
      setTimeout(function () { getJson(b.status_url, false).then(follow); }, POLL_MS);
    }
    getJson(link.getAttribute("href"), true).then(follow);
  }

  // --- the closing report's forms ---------------------------------------------------------

  function closingState() {
    var live = document.querySelector('[data-live="closing-status"]');
    return live ? live.getAttribute("data-closing-status") || "none" : "none";
  }

  var lastState = null;

  // A report returned while the submitter's page is open: the form gets the returned draft back
  // (what was submitted, as the approver saw it), without a reload.
  function refillDraft(root) {
    var form = document.getElementById("form-closing");
    if (!form) return;
    YJ.api("GET", "/api/v1/incidents/" + root.getAttribute("data-incident") + "/closing-report").then(function (res) {
      var row = res.ok && res.data && res.data.closing_report;
      if (!row) return;
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.type === "datetime-local" || typeof row[el.name] !== "string") return;
        el.value = row[el.name];
        el.defaultValue = row[el.name];  // a later form.reset() keeps the draft too
      });
      var details = document.getElementById("closing-submit");
      if (details) details.open = true;
    });
  }

  function applyClosing() {
    var root = document.getElementById("incident");
    var panel = document.getElementById("closing");
    if (!root || !panel) return;
    // The summary is written while the response runs and decided before the end (plan §五(一)).
    var status = root.getAttribute("data-status");
    var ended = status === "active" || status === "ended";
    var state = closingState();
    if (state === "returned" && lastState !== null && lastState !== "returned") refillDraft(root);
    lastState = state;
    panel.hidden = !(ended || state !== "none");
    panel.querySelectorAll("[data-closing-when]").forEach(function (el) {
      el.hidden = !(ended && el.getAttribute("data-closing-when").split(" ").indexOf(state) >= 0);
    });
    var none = document.getElementById("no-actions");
    if (none && !panel.hidden && panel.querySelector("[data-closing-when]:not([hidden])")) none.hidden = true;
  }

  function start() {
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[data-briefing]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      open(link);
    });
    var root = document.getElementById("incident");
    if (!root) return;
    applyClosing();
    // incident.js re-reads the page after every change: follow its status and the swapped status section.
    var observer = new MutationObserver(applyClosing);
    observer.observe(root, { attributes: true, attributeFilter: ["data-status"] });
    var panel = document.getElementById("closing");
    if (panel) observer.observe(panel, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
