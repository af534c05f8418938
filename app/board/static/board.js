/* Yingji boards: live countdowns and the small helpers every page uses. No libraries.
 *
 * Every element .countdown carries data-due (ISO time) and data-warn (seconds of the
 * clock's first warning). Each second it shows the time left, and its .clock row turns
 * amber within the warning and red when overdue. Every .since[data-since] shows how long
 * ago its moment was (an assignment waiting to be acknowledged). The server's "now"
 * (data-server-now, then the push's server_time) corrects a wrong clock on the screen's
 * computer.
 *
 * Text from users is only ever put on the page with textContent (YJ.el), never as HTML.
 */
(function () {
  "use strict";

  var YJ = window.YJ = window.YJ || {};
  YJ.tickHooks = YJ.tickHooks || []; // page scripts add functions run after each tick
  var offset = 0; // server time minus this computer's time, in ms
  var STATES = ["state-ok", "state-warn", "state-overdue"];

  // --- time ---------------------------------------------------------------------

  YJ.now = function () { return Date.now() + offset; };

  YJ.setServerNow = function (iso) {
    var t = Date.parse(iso || "");
    if (!isNaN(t)) offset = t - Date.now();
  };

  function readOffset(root) {
    var el = root && root.querySelector ? root.querySelector("[data-server-now]") : null;
    if (el) YJ.setServerNow(el.getAttribute("data-server-now"));
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // Same text as views.countdown_text on the server.
  YJ.countdownText = function (seconds) {
    var prefix = seconds > 0 ? "剩余" : "已超时";
    var total = Math.abs(seconds);
    var days = Math.floor(total / 86400), rest = total % 86400;
    var clock = pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor(rest % 3600 / 60)) + ":" + pad(rest % 60);
    return prefix + " " + (days ? days + "天 " : "") + clock;
  };

  // Same text as views.elapsed_text on the server.
  YJ.elapsedText = function (seconds) {
    var total = Math.max(0, Math.trunc(seconds));
    var days = Math.floor(total / 86400), hours = Math.floor(total % 86400 / 3600);
    var minutes = Math.floor(total % 3600 / 60), secs = total % 60;
    if (days) return days + "天" + hours + "小时";
    if (hours) return hours + "小时" + pad(minutes) + "分";
    if (minutes) return minutes + "分" + pad(secs) + "秒";
    return secs + "秒";
  };

  var formatters = {};
  function parts(ms, zone) {
    var f = formatters[zone] || (formatters[zone] = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }));
    var out = {};
    f.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }

  YJ.zone = function () {
    var d = YJ.data();
    return (d.plan && d.plan.timezone) || "Asia/Shanghai";
  };

  // 2026-11-20 09:00 in the plan's zone (Beijing time), as the server's localtime filter.
  YJ.fmtTime = function (iso, withSeconds) {
    var t = Date.parse(iso || "");
    if (isNaN(t)) return "—";
    var p = parts(t, YJ.zone());
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + (withSeconds ? ":" + p.second : "");
  };

  // A datetime-local value ("2026-11-20T09:30"), read as the plan's zone, to ISO 8601 with its offset.
  YJ.localToIso = function (value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
    if (!m) return null;
    var wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    var zone = YJ.zone();
    var guess = wall;
    for (var i = 0; i < 2; i++) { // the offset at the guess, then at the corrected guess
      var p = parts(guess, zone);
      var shown = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
      guess = wall - (shown - guess);
    }
    var off = Math.round((wall - guess) / 60000), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":" + (m[6] || "00") +
      sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  };

  // --- the page's data and the DOM --------------------------------------------------

  var pageData = null;
  YJ.data = function () {
    if (pageData === null) {
      var el = document.getElementById("page-data");
      try { pageData = el ? JSON.parse(el.textContent) : {}; } catch (e) { pageData = {}; }
    }
    return pageData;
  };

  // Build an element: YJ.el("span", {class: "x", "data-id": 3}, ["text", child]). Text is text.
  YJ.el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = String(v);
      else node.setAttribute(k, v === true ? "" : String(v));
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return node;
  };

  YJ.csrf = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };

  // Call the JSON API with the login session; resolves {ok, status, data}; the error's
  // Chinese message is data.error.message.
  YJ.api = function (method, url, body) {
    var opts = { method: method, credentials: "same-origin", cache: "no-store",
                 headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = YJ.csrf();
      opts.body = JSON.stringify(body || {});
    }
    return fetch(url, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok && !(data && data.error)) {
          data = { error: { message: "服务器返回错误（" + res.status + "），请稍后重试" } };
        }
        return { ok: res.ok, status: res.status, data: data };
      });
    }, function () {
      return { ok: false, status: 0, data: { error: { message: "网络连接失败，请检查网络后重试" } } };
    });
  };

  // Fetch a server-rendered fragment (escaped by the server's templates) and return its first
  // element, parsed into a detached document; null when it is gone (404), undefined on failure.
  YJ.fragment = function (url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "X-Requested-With": "fetch" } })
      .then(function (res) {
        if (res.redirected && /\/login/.test(res.url)) { window.location.reload(); return undefined; }
        if (res.status === 404 || res.status === 403) return null;
        if (!res.ok) return undefined;
        return res.text().then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var node = doc.body.firstElementChild;
          return node ? document.importNode(node, true) : null;
        });
      }, function () { return undefined; });
  };

  // --- banners --------------------------------------------------------------------------

  // A banner that stays until dismissed (or replaced by one with the same id).
  YJ.banner = function (opts) {
    var box = document.getElementById("alerts");
    if (!box) return null;
    var id = opts.id ? "banner-" + opts.id : null;
    var old = id ? document.getElementById(id) : null;
    var close = YJ.el("button", { type: "button", class: "banner-close", "aria-label": "关闭提醒", text: "知道了" });
    var node = YJ.el("section", { class: "banner banner-" + (opts.kind || "info"), role: "alert", id: id }, [
      YJ.el("p", { class: "banner-title", text: opts.title }),
      opts.text ? YJ.el("p", { class: "banner-text", text: opts.text }) : null,
      opts.href ? YJ.el("a", { class: "banner-link", href: opts.href, text: opts.linkText || "查看" }) : null,
      close
    ]);
    close.addEventListener("click", function () { node.remove(); });
    if (old) old.replaceWith(node); else box.appendChild(node);
    return node;
  };

  // --- the clock tick -----------------------------------------------------------------

  function tick() {
    var now = YJ.now();
    var cards = [];
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = Math.trunc((due - now) / 1000);
      var warn = parseInt(el.getAttribute("data-warn"), 10) || 0;
      var state = left <= 0 ? "state-overdue" : (left <= warn ? "state-warn" : "state-ok");
      var label = YJ.countdownText(left);
      if (el.textContent !== label) el.textContent = label;
      var row = el.closest(".clock, .assignment");
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
    document.querySelectorAll(".since[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (isNaN(since)) return;
      var label = YJ.elapsedText((now - since) / 1000);
      if (el.textContent !== label) el.textContent = label;
    });
    YJ.tickHooks.forEach(function (fn) { fn(now); });
  }
  YJ.tick = tick;

  function start() {
    readOffset(document);
    tick();
    setInterval(tick, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
