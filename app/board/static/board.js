/* Yingji boards: live countdowns and a light refresh of the board, no libraries.
 *
 * Every element .countdown carries data-due (ISO time) and data-warn (seconds of the
 * clock's first warning). Each second it shows the time left, and its .clock row turns
 * amber within the warning and red when overdue. The server's "now" (data-server-now)
 * corrects a wrong clock on the screen's computer.
 */
(function () {
  "use strict";

  var offset = 0; // server time minus this computer's time, in ms
  var STATES = ["state-ok", "state-warn", "state-overdue"];

  function readOffset(root) {
    var el = root && root.querySelector ? root.querySelector("[data-server-now]") : null;
    if (!el && root && root.hasAttribute && root.hasAttribute("data-server-now")) el = root;
    var t = el ? Date.parse(el.getAttribute("data-server-now")) : NaN;
    offset = isNaN(t) ? 0 : t - Date.now();
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // Same text as views.countdown_text on the server.
  function text(seconds) {
    var prefix = seconds > 0 ? "剩余" : "已超时";
    var total = Math.abs(seconds);
    var days = Math.floor(total / 86400), rest = total % 86400;
    var clock = pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor(rest % 3600 / 60)) + ":" + pad(rest % 60);
    return prefix + " " + (days ? days + "天 " : "") + clock;
  }

  function tick() {
    var now = Date.now() + offset;
    var cards = [];
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = Math.trunc((due - now) / 1000);
      var warn = parseInt(el.getAttribute("data-warn"), 10) || 0;
      var state = left <= 0 ? "state-overdue" : (left <= warn ? "state-warn" : "state-ok");
      var label = text(left);
      if (el.textContent !== label) el.textContent = label;
      var row = el.closest(".clock");
      if (row && !row.classList.contains(state)) {
        STATES.forEach(function (s) { row.classList.remove(s); });
        row.classList.add(state);
        var status = row.querySelector(".status-text");
        if (status && state === "state-overdue") status.textContent = "超时未报";
      }
      var card = el.closest(".card");
      if (card && cards.indexOf(card) < 0) cards.push(card);
    });
    cards.forEach(function (card) {
      card.classList.toggle("card-overdue", !!card.querySelector(".clock.state-overdue"));
    });
  }

  // The board re-reads itself (same URL) and swaps the new content in: no flash, no lost scroll.
  function refresher(board) {
    var every = (parseInt(board.getAttribute("data-refresh"), 10) || 60) * 1000;
    var last = Date.now();
    function refresh() {
      if (document.hidden) return;
      last = Date.now();
      fetch(window.location.href, { credentials: "same-origin", cache: "no-store",
                                    headers: { "X-Requested-With": "fetch" } })
        .then(function (res) {
          if (res.redirected && /\/login/.test(res.url)) { window.location.reload(); return null; }
          return res.ok ? res.text() : null;
        })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("board");
          if (!fresh) return;
          board.innerHTML = fresh.innerHTML;
          board.setAttribute("data-server-now", fresh.getAttribute("data-server-now") || "");
          readOffset(board);
          tick();
        })
        .catch(function () { /* offline for a moment: keep counting, try again next time */ });
    }
    setInterval(refresh, every);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && Date.now() - last >= every) refresh();
    });
  }

  function start() {
    readOffset(document);
    tick();
    setInterval(tick, 1000);
    var board = document.getElementById("board");
    if (board && board.hasAttribute("data-refresh")) refresher(board);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
