/* Yingji incident page: live. When the push says this incident, one of its assignments, one
 * of its clocks or one of its escalations changed (or one of the forms succeeded), the page
 * reads itself again and swaps in the sections marked data-live; the forms stay as they are
 * (with what is typed in them) and are shown or hidden for the incident's new status and level.
 */
(function () {
  "use strict";

  var YJ = window.YJ;
  var root, incidentId, timer = null, busy = false, again = false;

  function applyState(status, level) {
    root.setAttribute("data-status", status);
    root.setAttribute("data-level", level);
    document.querySelectorAll("#actions [data-show-when]").forEach(function (el) {
      var ok = el.getAttribute("data-show-when").split(" ").indexOf(status) >= 0;
      var levels = el.getAttribute("data-levels");
      if (ok && levels) ok = levels.split(" ").indexOf(level) >= 0;
      el.hidden = !ok;
      if (el.tagName === "OPTION") el.disabled = !ok;
    });
    var none = document.getElementById("no-actions");
    if (none) none.hidden = !!document.querySelector("#actions .action:not([hidden])");
    // A select whose chosen option no longer applies moves to the first one that does.
    document.querySelectorAll("#actions select").forEach(function (select) {
      var chosen = select.options[select.selectedIndex];
      if (chosen && chosen.disabled) {
        for (var i = 0; i < select.options.length; i++) {
          if (!select.options[i].disabled) { select.selectedIndex = i; break; }
        }
      }
    });
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (res.redirected && /\/login/.test(res.url)) { window.location.reload(); return null; }
        if (res.status === 404) {
          YJ.banner({ id: "gone", kind: "warn", title: "该事件已无法查看", text: "事件可能已不再由本单位跟进。" });
          return null;
        }
        return res.ok ? res.text() : null;
      })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("incident");
        if (!fresh) return;
        fresh.querySelectorAll("[data-live]").forEach(function (node) {
          var name = node.getAttribute("data-live");
          var old = root.querySelector('[data-live="' + name + '"]');
          if (old) old.replaceWith(document.importNode(node, true));
        });
        var title = doc.querySelector("title");
        if (title) document.title = title.textContent;
        applyState(fresh.getAttribute("data-status") || "", fresh.getAttribute("data-level") || "");
        YJ.setServerNow(fresh.getAttribute("data-server-now"));
        YJ.tick();
      })
      .catch(function () { /* offline for a moment: the next event or reconnect reads again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; soon(); }
      });
  }

  function soon() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () { timer = null; refresh(); }, 150);
  }

  function concerns(msg) {
    var d = msg.data || {};
    if (msg.event === "incident") return d.incident && d.incident.id === incidentId;
    if (msg.event === "assignment") return d.assignment && d.assignment.incident_id === incidentId;
    if (msg.event === "clock") return d.firing && d.firing.incident_id === incidentId;
    // A step of an escalation, a message handed to the provider, an acknowledgement: the
    // 升级通知记录 section (data-live="escalations") is read again with the rest.
    if (msg.event === "escalation") return d.escalation && d.escalation.incident_id === incidentId;
    return false;
  }

  function onMessage(msg) {
    if (!concerns(msg)) return;
    if (msg.event === "clock") {
      var f = msg.data.firing || {};
      var overdue = msg.data.what === "overdue";
      YJ.banner({ id: "clock-" + (f.deadline_id || ""), kind: overdue ? "overdue" : "warn",
                  title: overdue ? "时限已超时" : "时限预警", text: f.text || "" });
    }
    soon();
  }

  // The assignment form says who is on duty in the chosen department, or who hears of the task instead.
  function showCover() {
    var select = document.querySelector('#form-assign select[name="department"]');
    var line = document.getElementById("assign-cover");
    if (!select || !line) return;
    var level = select.getAttribute("data-cover-level");
    YJ.api("GET", "/api/v1/duty/cover?departments=" + encodeURIComponent(select.value) +
                  (level ? "&level=" + encodeURIComponent(level) : "")).then(function (res) {
      var c = res.ok && res.data.cover && res.data.cover[0];
      if (!c || c.department !== select.value) return;
      line.textContent = c.note || ("当前值班：" + c.on_duty.join("、"));
      line.classList.toggle("uncovered", !!c.note);
    });
  }

  function start() {
    root = document.getElementById("incident");
    if (!root) return;
    var assignTo = document.querySelector('#form-assign select[name="department"]');
    if (assignTo) {
      assignTo.addEventListener("change", showCover);
      showCover();
    }
    incidentId = parseInt(root.getAttribute("data-incident"), 10);
    applyState(root.getAttribute("data-status") || "", root.getAttribute("data-level") || "");
    document.addEventListener("api:done", function () { soon(); });
    YJ.live(onMessage, { onHello: function (first) { if (!first) soon(); } });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
