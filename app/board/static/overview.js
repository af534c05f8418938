/* Yingji overview board (事件总览): live, never reloaded.
 *
 * Any pushed change about an incident (the incident itself, one of its assignments, one of
 * its clocks) fetches that incident's card again (/board/cards/<id>, rendered by the same
 * template as the page) and puts it in its level group, in level order, newest first; an
 * archived incident's card leaves. The office also sees the duty roster's alerts.
 */
(function () {
  "use strict";

  var YJ = window.YJ;
  var LEVEL_ORDER = ["I", "II", "III", "IV", ""];
  var BANNERS_KEPT = 6;
  var ALERTS_EVERY = 5 * 60 * 1000;
  var pending = {};   // incident id -> timer of a scheduled card fetch
  var groups;

  function rank(level) {
    var i = LEVEL_ORDER.indexOf(level || "");
    return i < 0 ? LEVEL_ORDER.length : i;
  }

  function cardOf(id) { return groups.querySelector('.card[data-incident="' + id + '"]'); }

  function tidy() {
    var total = 0;
    groups.querySelectorAll(".level-group").forEach(function (group) {
      var n = group.querySelectorAll(".cards > .card").length;
      if (!n) { group.remove(); return; }
      total += n;
      group.style.setProperty("--n", String(Math.min(n, 4)));
      var count = group.querySelector(".group-count");
      if (count) count.textContent = n + " 起";
    });
    var totalEl = document.getElementById("total");
    if (totalEl) totalEl.textContent = String(total);
    var empty = document.getElementById("empty");
    if (empty) empty.hidden = total > 0;
    YJ.tick();
  }

  function removeCard(id) {
    var card = cardOf(id);
    if (card) card.remove();
    tidy();
  }

  // Put a fetched group section (holding the one card) on the board.
  function place(section, id, isNew) {
    var card = section.querySelector(".card");
    if (!card) return;
    var level = section.getAttribute("data-level") || "";
    var old = cardOf(id);
    if (old) {
      var details = old.querySelector("details.tasks-all");
      var fresh = card.querySelector("details.tasks-all");
      if (details && fresh && details.open) fresh.open = true;
    }
    if (isNew) card.classList.add("card-new");
    var group = groups.querySelector('.level-group[data-level="' + level + '"]');
    if (old && old.closest(".level-group") === group) {
      old.replaceWith(card);
    } else {
      if (old) old.remove();
      if (!group) {
        var before = null;
        groups.querySelectorAll(".level-group").forEach(function (g) {
          if (!before && rank(g.getAttribute("data-level")) > rank(level)) before = g;
        });
        groups.insertBefore(section, before);
      } else {
        var cards = group.querySelector(".cards"), next = null;
        cards.querySelectorAll(".card").forEach(function (c) {
          if (!next && parseInt(c.getAttribute("data-incident"), 10) < id) next = c;
        });
        cards.insertBefore(card, next);
      }
    }
    if (isNew) setTimeout(function () { card.classList.remove("card-new"); }, 8000);
    tidy();
  }

  function refreshCard(id, isNew) {
    if (pending[id]) clearTimeout(pending[id]);
    pending[id] = setTimeout(function () {
      delete pending[id];
      YJ.fragment("/board/cards/" + id).then(function (section) {
        if (section === null) { removeCard(id); return; }
        if (section === undefined) { setTimeout(function () { refreshCard(id, isNew); }, 3000); return; }
        place(section, id, isNew);
      });
    }, 120);
  }

  function clockBanner(msg) {
    var f = msg.data.firing || {};
    var overdue = msg.data.what === "overdue";
    YJ.banner({ id: "clock-" + (f.deadline_id || msg.key), kind: overdue ? "overdue" : "warn",
                title: overdue ? "时限已超时" : "时限预警", text: f.text || "",
                href: f.incident_id ? "/incidents/" + f.incident_id : null, linkText: "查看事件" });
    var box = document.getElementById("alerts");
    while (box && box.children.length > BANNERS_KEPT) box.removeChild(box.firstElementChild);
  }

  // --- the office's duty alerts -------------------------------------------------------

  function loadAlerts() {
    var panel = document.getElementById("duty-alerts");
    if (!panel) return;
    YJ.api("GET", "/api/v1/duty/alerts").then(function (res) {
      if (!res.ok) return;
      var alerts = res.data.alerts || [];
      var list = document.getElementById("duty-alert-list");
      var items = alerts.map(function (a) {
        return YJ.el("li", { class: "duty-alert duty-alert-" + a.kind }, [
          YJ.el("span", { class: "duty-alert-text", text: a.message }),
          YJ.el("span", { class: "duty-alert-time", text: YJ.fmtTime(a.starts_at) + " 至 " + YJ.fmtTime(a.ends_at) })
        ]);
      });
      list.replaceChildren.apply(list, items);
      document.getElementById("duty-alerts-count").textContent = alerts.length ? alerts.length + " 项" : "";
      panel.hidden = !alerts.length;
    });
  }

  // --- the head's totals ----------------------------------------------------------------

  function meta(id, label, n) {
    var el = document.getElementById(id);
    if (!el) return;
    var text = label + " " + n + " 项";
    if (el.getAttribute("data-text") === text) return;
    el.setAttribute("data-text", text);
    el.replaceChildren(label + " ", YJ.el("b", { text: n }), " 项");
    el.hidden = !n;
  }

  function countClocks() {
    meta("meta-overdue", "超时未报", groups.querySelectorAll(".clock.state-overdue").length);
    meta("meta-warn", "即将到期", groups.querySelectorAll(".clock.state-warn").length);
  }

  function onMessage(msg) {
    var d = msg.data || {};
    if (msg.event === "incident" && d.incident) {
      if (d.what === "archived") removeCard(d.incident.id);
      else refreshCard(d.incident.id, d.what === "registered" && !cardOf(d.incident.id));
    } else if (msg.event === "assignment" && d.assignment) {
      refreshCard(d.assignment.incident_id, false);
    } else if (msg.event === "clock" && d.firing) {
      if (cardOf(d.firing.incident_id)) clockBanner(msg);
      refreshCard(d.firing.incident_id, false);
    } else if (msg.event === "duty") {
      loadAlerts();
    }
  }

  function start() {
    groups = document.getElementById("groups");
    if (!groups) return;
    YJ.tickHooks.push(countClocks);
    loadAlerts();
    setInterval(loadAlerts, ALERTS_EVERY);
    YJ.live(onMessage, {
      onHello: function (first) {
        if (first) return;
        loadAlerts(); // the alerts depend on the time too; events replayed on resume update the cards
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
