/* Yingji overview board (事件总览): live, never reloaded.
 *
 * Any pushed change about an incident (the incident itself, one of its assignments, one of
 * its clocks) fetches that incident's card again (/board/cards/<id>, rendered by the same
 * template as the page) and puts it in its level group, in level order, newest first; an
 * archived incident's card leaves. The office also sees the duty roster's alerts.
 *
 * Escalations (escalation.js): a pending assignment on a card says where its escalation stands
 * (已短信通知 王值班 · 02:14, 已电话通知科室负责人 …, 升级至领导小组 …), a clock's escalation gets
 * a line on its card, and the panel at the top lists what has gone beyond the board, an
 * escalation that ran through its whole chain with nobody acknowledging first and in red.
 */
(function () {
  "use strict";

  var YJ = window.YJ;
  var LEVEL_ORDER = ["I", "II", "III", "IV", ""];
  var BANNERS_KEPT = 6;
  var ALERTS_EVERY = 5 * 60 * 1000;
  var pending = {};   // incident id -> timer of a scheduled card fetch
  var groups, esc = null;

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
      group.setAttribute("data-n", String(Math.min(n, 4)));
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
    decorate(id);
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

  // --- escalations ------------------------------------------------------------------------

  // Ran through the whole chain and its item still waits: nobody answered anything.
  function alarmed(e) { return e.status === "exhausted" && e.open; }

  function listed(e) {
    if (alarmed(e)) return true;
    if (e.status !== "running") return false;
    return YJ.esc.headline(e).kind !== "board" || !!YJ.esc.problem(e); // someone was called, or could not be
  }

  function levelOf(code) {
    var lv = code && YJ.data().plan && YJ.data().plan.levels[code];
    return lv ? { text: lv.numeral + "级", colour: lv.colour } : { text: "未定级", colour: "grey" };
  }

  function escItem(e) {
    var lv = levelOf(e.incident_level);
    return YJ.el("li", { class: "esc-alert" + (alarmed(e) ? " esc-alarm" : ""), "data-escalation-id": e.id,
                         "data-status": e.status }, [
      YJ.el("span", { class: "lv lv-" + lv.colour, text: lv.text }),
      YJ.el("a", { class: "card-number", href: "/incidents/" + e.incident_id, text: e.incident_number }),
      YJ.el("span", { class: "esc-alert-unit", text: e.unit_name }),
      YJ.el("span", { class: "esc-alert-item", text: e.item }),
      YJ.esc.badge(e, "span")
    ]);
  }

  function renderEscAlerts() {
    var panel = document.getElementById("esc-alerts");
    if (!panel) return;
    var rows = esc.all().filter(listed).sort(function (a, b) {
      return (alarmed(b) ? 1 : 0) - (alarmed(a) ? 1 : 0) || b.id - a.id;
    });
    var list = document.getElementById("esc-alert-list");
    list.replaceChildren.apply(list, rows.map(escItem));
    var stuck = rows.filter(alarmed).length;
    document.getElementById("esc-alerts-count").textContent =
      stuck ? stuck + " 项已升级至最后一步，仍无人签收" : rows.length + " 项升级中";
    panel.classList.toggle("esc-alerts-alarm", stuck > 0);
    panel.hidden = !rows.length;
  }

  // Put an incident's escalations on its card: a badge on each pending assignment, a line per clock.
  function decorate(id) {
    var card = cardOf(id);
    if (!card || !esc) return;
    card.querySelectorAll(".esc-badge, .card-escalations").forEach(function (el) { el.remove(); });
    var lines = [];
    esc.of(id).forEach(function (e) {
      if (e.status !== "running" && !alarmed(e)) return;
      if (e.assignment_id) {
        var task = card.querySelector('.tasks-pending .task[data-assignment-id="' + e.assignment_id + '"]');
        if (task) task.appendChild(YJ.esc.badge(e, "span"));
      } else {
        lines.push(YJ.el("li", { class: "card-esc" }, [
          YJ.el("span", { class: "card-esc-item", text: e.item }), YJ.esc.badge(e, "span")]));
      }
    });
    if (lines.length) card.appendChild(YJ.el("ul", { class: "card-escalations", "aria-label": "时限升级通知" }, lines));
    card.classList.toggle("card-esc-alarm", esc.of(id).some(alarmed));
  }

  function showEscalations(id) {
    decorate(id);
    renderEscAlerts();
  }

  function onEscalation(msg) {
    var d = msg.data, e = d.escalation;
    // A 12315 limit's escalation has no incident: the complaint panels show those limits.
    if (!e.incident_id) return;
    esc.merge(e);
    showEscalations(e.incident_id);
    esc.refresh(e.incident_id);
    if (d.what === "exhausted" && cardOf(e.incident_id)) {
      YJ.banner({ id: "esc-" + e.id, kind: "overdue", title: "升级通知已到最后一步，仍无人签收",
                  text: e.code + " " + (e.trigger_name || ""), href: "/incidents/" + e.incident_id, linkText: "查看事件" });
      var box = document.getElementById("alerts");
      while (box && box.children.length > BANNERS_KEPT) box.removeChild(box.firstElementChild);
    }
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
    // The 来文 panel (inbox.js) hears every event too, in order and once.
    (YJ.boardHooks || []).forEach(function (hook) {
      try { hook(msg); } catch (e) { if (window.console) console.error(e); }
    });
    if (msg.event === "incident" && d.incident) {
      if (d.what === "archived" || d.what === "withdrawn" || d.what === "closed") removeCard(d.incident.id);
      else refreshCard(d.incident.id, d.what === "registered" && !cardOf(d.incident.id));
      esc.recheck(d.incident.id);
    } else if (msg.event === "assignment" && d.assignment) {
      refreshCard(d.assignment.incident_id, false);
      esc.recheck(d.assignment.incident_id);
    } else if (msg.event === "clock" && d.firing) {
      if (cardOf(d.firing.incident_id)) clockBanner(msg);
      refreshCard(d.firing.incident_id, false);
    } else if (msg.event === "duty") {
      loadAlerts();
    } else if (msg.event === "escalation" && d.escalation) {
      onEscalation(msg);
    } else if (msg.event === "alert") {
      if (d.what === "holiday_duty_gap") loadAlerts();
      else YJ.banner({id: "alert-" + msg.key, kind: /^complaint_surge/.test(d.what || "") ? "overdue" : "warn",
                      title: /^complaint_surge/.test(d.what || "") ? "投诉高峰" : (d.title || "提醒"), text: d.message || "",
                      href: d.surge && d.surge.incident_id ? "/incidents/" + d.surge.incident_id : null,
                      linkText: "查看事件"});
    } else if (msg.event === "notice") {
      YJ.banner({id: "notice-" + msg.key, kind: "info", title: d.title, text: d.text, href: d.href,
                 linkText: "打开 PDF"});
    }
  }

  function start() {
    groups = document.getElementById("groups");
    if (!groups) return;
    YJ.tickHooks.push(countClocks);
    esc = YJ.esc.store(YJ.data().escalations, { onChange: showEscalations });
    groups.querySelectorAll(".card[data-incident]").forEach(function (card) {
      decorate(parseInt(card.getAttribute("data-incident"), 10));
    });
    renderEscAlerts();
    loadAlerts();
    setInterval(loadAlerts, ALERTS_EVERY);
    YJ.live(onMessage, {
      onHello: function (first) {
        if (first) return;
        loadAlerts(); // the alerts depend on the time too; events replayed on resume update the cards
        esc.refreshAll();
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
