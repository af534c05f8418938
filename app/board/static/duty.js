/* Yingji duty board (值班看板) of one department: live, never reloaded.
 *
 * - Assignments arrive by push; a new one beeps (sound.js: Web Audio, once the officer has
 *   enabled sound: browsers need a click first) and stays in the banner until it is acknowledged.
 *   Each card calls the API: 签收 (ack), 办理中 (progress, with a note), 完成 (done, with a
 *   note), 否定报备 (decline, with a reason).
 * - The clocks of the department's incidents count down (amber at their first warning, red
 *   when overdue); the panel is fetched again when an incident or a clock changes.
 * - Clock warnings and overdue notices from the push show as banners.
 * - Who is on duty now and the coming shifts, from the duty API.
 * - Escalations (escalation.js): each assignment card says where its escalation stands
 *   (已短信通知 王值班 · 02:14, 已签收 …); the department's clocks about to run out or run out
 *   have their own list with 签收提醒, which stops the SMS and calls still to come.
 * - Every event is handed to the functions in YJ.boardHooks as well (the office's 来文 panel).
 */
(function () {
  "use strict";

  var YJ = window.YJ;
  var REMIND_EVERY = 60 * 1000;   // beep again while something waits to be acknowledged
  var ROSTER_EVERY = 60 * 1000;   // who is on duty changes with the time
  var SHIFTS_SHOWN = 8;
  var ACKED_SHOWN = 60 * 60 * 1000; // an acknowledged clock reminder stays listed (greyed) this long
  // A decline waiting for approval stays open: the measure is still the department's.
  var OPEN = ["pushed", "acknowledged", "in_progress", "decline_requested"];
  var DECLINABLE = ["pushed", "acknowledged", "in_progress"];
  var ACTIONS = {
    progress: { label: "办理中", field: "note", prompt: "办理情况", ok: "已报告办理情况" },
    done: { label: "完成", field: "note", prompt: "完成情况", ok: "已完成" },
    decline: { label: "否定报备", field: "reason", prompt: "否定报备理由", ok: "已否定报备" }
  };

  var data, plan, dept, items = {}, list, closed, esc = null;

  // --- sound (sound.js) --------------------------------------------------------------------

  function beep() { YJ.sound.beep(); }

  // --- assignment cards ---------------------------------------------------------------------

  function level(a) {
    var lv = a.level && plan.levels[a.level];
    return lv ? { text: lv.numeral + "级", colour: lv.colour } : { text: "未定级", colour: "grey" };
  }

  function statusName(s) { return plan.assignment_status[s] || s; }

  function note(label, text, cls) {
    return text ? YJ.el("p", { class: "a-note " + (cls || "") }, [YJ.el("span", { class: "muted", text: label + "：" }), text]) : null;
  }

  function actionButton(a, action, cls) {
    var b = YJ.el("button", { type: "button", class: "btn " + (cls || ""), "data-action": action,
                              text: ACTIONS[action] ? ACTIONS[action].label : "签收" });
    b.addEventListener("click", function () {
      if (action === "ack") send(a.id, "ack", {}, b);
      else openForm(a.id, action);
    });
    return b;
  }

  function actionsFor(a) {
    var out = [];
    if (a.status === "pushed") out.push(actionButton(a, "ack", "btn-primary btn-ack"));
    if (a.status === "acknowledged" || a.status === "in_progress") {
      out.push(actionButton(a, "progress", a.status === "acknowledged" ? "btn-primary" : ""));
      out.push(actionButton(a, "done", a.status === "in_progress" ? "btn-primary" : ""));
    }
    if (DECLINABLE.indexOf(a.status) >= 0) out.push(actionButton(a, "decline", "btn-warn"));
    if (a.status === "in_progress") out[0].textContent = "更新办理情况";
    return out;
  }

  function render(a) {
    var lv = level(a), open = OPEN.indexOf(a.status) >= 0;
    var due = null;
    if (a.due_at && open) {
      due = YJ.el("p", { class: "a-due" }, [
        YJ.el("span", { class: "muted", text: "完成时限 " }), YJ.fmtTime(a.due_at), " ",
        YJ.el("span", { class: "countdown", "data-due": a.due_at, "data-warn": warnOf(a), role: "timer" })
      ]);
    } else if (a.due_at) {
      due = YJ.el("p", { class: "a-due muted", text: "完成时限 " + YJ.fmtTime(a.due_at) });
    }
    var meta = [YJ.el("span", { text: "推送于 " + YJ.fmtTime(a.created_at) })];
    if (a.status === "pushed") meta.push(YJ.el("span", { class: "a-wait" }, ["已等待 ", YJ.el("span", { class: "since", "data-since": a.created_at })]));
    if (a.acknowledged_at) meta.push(YJ.el("span", { text: "签收于 " + YJ.fmtTime(a.acknowledged_at) }));
    if (a.done_at) meta.push(YJ.el("span", { text: "完成于 " + YJ.fmtTime(a.done_at) }));
    if (a.declined_at) meta.push(YJ.el("span", { text: "否定报备于 " + YJ.fmtTime(a.declined_at) }));
    var escalation = esc && esc.forAssignment(a.id);
    var card = YJ.el("article", {
      class: "assignment card-" + lv.colour + " status-" + a.status + (a.status === "pushed" ? " is-new" : ""),
      "data-assignment-id": a.id, "data-status": a.status, "data-incident": a.incident_id,
      id: "assignment-" + a.id, tabindex: "-1"
    }, [
      YJ.el("div", { class: "a-top" }, [
        YJ.el("span", { class: "lv lv-" + lv.colour, text: lv.text }),
        YJ.el("a", { class: "card-number", href: "/incidents/" + a.incident_id, text: a.incident_number }),
        YJ.el("span", { class: "a-incident", text: a.incident_title }),
        YJ.el("span", { class: "task-state state-" + a.status, text: statusName(a.status) })
      ]),
      YJ.el("p", { class: "a-task", text: a.task }),
      a.uncovered_note && a.status === "pushed" ? YJ.el("p", { class: "a-uncovered", text: a.uncovered_note }) : null,
      due,
      YJ.el("p", { class: "a-meta" }, meta),
      escalation && YJ.esc.worthShowing(escalation) ? YJ.esc.badge(escalation) : null,
      note("办理情况", a.status === "in_progress" ? a.progress_note : null),
      note("完成情况", a.done_note),
      note("否定报备理由", a.decline_reason, "a-declined"),
      a.status === "decline_requested" ? note("否定报备", "已报指挥部审批，批准前仍由本科室负责", "a-declined") : null,
      a.decline_status === "rejected" && OPEN.indexOf(a.status) >= 0
        ? note("指挥部不同意否定报备", a.decline_note, "a-declined") : null,
      open && data.may_handle ? YJ.el("div", { class: "a-actions" }, actionsFor(a)) : null,
      YJ.el("p", { class: "form-error", role: "alert", hidden: true })
    ]);
    return card;
  }

  function warnOf(a) {
    // An assignment for a plan measure warns as that measure's clock does. A free-form task turns amber
    // when a quarter of its time is left (at least 10 minutes, at most 2 hours before it is due).
    var measure = a.clock && plan.clock_warn && plan.clock_warn[a.clock];
    if (measure) return measure;
    if (!a.due_at || !a.created_at) return 0;
    var given = (Date.parse(a.due_at) - Date.parse(a.created_at)) / 1000;
    return Math.round(Math.min(7200, Math.max(600, given / 4)));
  }

  // The inline form of 办理中 / 完成 / 否定报备: kept (with its text) when the card is redrawn.
  function openForm(id, action) {
    var card = document.getElementById("assignment-" + id);
    if (!card) return;
    var old = card.querySelector("form.a-form");
    if (old && old.getAttribute("data-action") === action) { old.querySelector("textarea").focus(); return; }
    if (old) old.remove();
    var spec = ACTIONS[action];
    var area = YJ.el("textarea", { name: spec.field, rows: 2, required: true });
    var submit = YJ.el("button", { type: "submit", class: "btn btn-primary", text: "提交" + spec.label });
    var cancel = YJ.el("button", { type: "button", class: "btn", text: "取消" });
    var form = YJ.el("form", { class: "a-form", "data-action": action, novalidate: true }, [
      YJ.el("label", {}, [spec.prompt, area]),
      YJ.el("p", { class: "form-error", role: "alert", hidden: true }),
      YJ.el("div", { class: "a-form-actions" }, [submit, cancel])
    ]);
    cancel.addEventListener("click", function () { form.remove(); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      body[spec.field] = area.value.trim();
      send(id, action, body, submit, form);
    });
    card.querySelector(".a-actions").after(form);
    area.focus();
  }

  function send(id, action, body, button, form) {
    var card = document.getElementById("assignment-" + id);
    var error = (form || card).querySelector(".form-error");
    if (error) { error.hidden = true; error.textContent = ""; }
    button.disabled = true;
    YJ.api("POST", "/api/v1/assignments/" + id + "/" + action, body).then(function (res) {
      button.disabled = false;
      if (!res.ok) {
        var target = (form && form.isConnected ? form : document.getElementById("assignment-" + id) || card)
          .querySelector(".form-error");
        if (target) {
          target.textContent = (res.data.error && res.data.error.message) || "提交失败，请重试";
          target.hidden = false;
        }
        return;
      }
      if (form) form.remove();
      upsert(res.data, null);
    });
  }

  // --- the lists --------------------------------------------------------------------------

  function order(a, b) {
    var pa = a.status === "pushed" ? 0 : 1, pb = b.status === "pushed" ? 0 : 1;
    if (pa !== pb) return pa - pb;
    if (pa === 0) return b.id - a.id; // the newest push first
    var da = a.due_at ? Date.parse(a.due_at) : Infinity, db = b.due_at ? Date.parse(b.due_at) : Infinity;
    return da !== db ? da - db : a.id - b.id;
  }

  function place(a) {
    var open = OPEN.indexOf(a.status) >= 0;
    var target = open ? list : closed;
    var old = document.getElementById("assignment-" + a.id);
    var card = render(a);
    var form = old && old.querySelector("form.a-form");
    if (form && open && card.querySelector('[data-action="' + form.getAttribute("data-action") + '"]')) {
      card.querySelector(".a-actions").after(form);
    }
    if (old) old.remove();
    var siblings = Array.prototype.filter.call(target.children, function (el) { return el.classList.contains("assignment"); });
    var next = null;
    for (var i = 0; i < siblings.length; i++) {
      var other = items[siblings[i].getAttribute("data-assignment-id")];
      if (other && (open ? order(a, other) : other.id - a.id) < 0) { next = siblings[i]; break; }
    }
    target.insertBefore(card, next);
  }

  function counts() {
    var all = Object.keys(items).map(function (k) { return items[k]; });
    var pushed = all.filter(function (a) { return a.status === "pushed"; });
    var working = all.filter(function (a) { return a.status !== "pushed" && OPEN.indexOf(a.status) >= 0; });
    document.getElementById("pending-count").textContent = String(pushed.length);
    document.getElementById("open-count").textContent = String(working.length);
    document.getElementById("no-tasks").hidden = pushed.length + working.length > 0;
    document.getElementById("closed-panel").hidden = !closed.children.length;
    // The banner stays while anything waits to be acknowledged.
    var banner = document.getElementById("new-banner");
    document.getElementById("new-banner-count").textContent = String(pushed.length);
    var rows = pushed.sort(function (a, b) { return b.id - a.id; }).map(function (a) {
      var link = YJ.el("a", { href: "#assignment-" + a.id }, [
        YJ.el("span", { class: "lv lv-" + level(a).colour, text: level(a).text }), " ",
        YJ.el("b", { text: a.incident_number }), " ", a.incident_title, "：", a.task
      ]);
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var card = document.getElementById("assignment-" + a.id);
        if (card) {
          card.scrollIntoView({ behavior: "smooth", block: "center" });
          var ack = card.querySelector(".btn-ack");
          if (ack) ack.focus();
        }
      });
      return YJ.el("li", { "data-assignment-id": a.id }, [link]);
    });
    var ul = document.getElementById("new-banner-list");
    ul.replaceChildren.apply(ul, rows);
    banner.hidden = !pushed.length;
    document.title = (pushed.length ? "（" + pushed.length + "）" : "") + "值班看板 · " + data.department_name;
  }

  function upsert(a, what) {
    if (!a || a.department !== dept) return;
    var known = items[a.id];
    items[a.id] = a;
    place(a);
    counts();
    YJ.tick();
    if (!known && a.status === "pushed" && what === "created") beep();
    if (what === "decline_rejected") {
      YJ.banner({ id: "decline-" + a.id, kind: "warn", title: "指挥部不同意否定报备，任务退回本科室继续办理",
                  text: a.incident_number + " " + a.task + (a.decline_note ? "。理由：" + a.decline_note : ""),
                  href: "#assignment-" + a.id, linkText: "查看任务" });
      beep();
    }
  }

  // --- escalations ------------------------------------------------------------------------

  function clockReminders() {
    var now = YJ.now();
    return esc.all().filter(function (e) {
      if (!e.deadline_id) return false;
      if (e.status === "running" || (e.status === "exhausted" && e.open)) return true;
      return e.status === "acknowledged" && Date.parse(e.stopped_at) > now - ACKED_SHOWN;
    }).sort(function (a, b) {
      var la = a.status === "acknowledged" ? 1 : 0, lb = b.status === "acknowledged" ? 1 : 0;
      return la !== lb ? la - lb : b.id - a.id;
    });
  }

  function reminder(e) {
    var lv = level({ level: e.incident_level });
    var running = e.status === "running";
    var button = running && data.may_ack ? YJ.el("button", {
      type: "button", class: "btn btn-primary btn-esc-ack", "data-escalation-id": e.id, text: "签收提醒"
    }) : null;
    var row = YJ.el("article", {
      class: "esc-row esc-row-" + e.status + (e.status === "exhausted" ? " esc-alarm" : ""),
      id: "esc-" + e.id, "data-escalation-id": e.id, "data-status": e.status, "data-incident": e.incident_id
    }, [
      YJ.el("div", { class: "a-top" }, [
        YJ.el("span", { class: "lv lv-" + lv.colour, text: lv.text }),
        YJ.el("a", { class: "card-number", href: "/incidents/" + e.incident_id, text: e.incident_number }),
        YJ.el("span", { class: "a-incident", text: e.incident_title }),
        YJ.el("span", { class: "esc-state esc-state-" + e.status, text: e.status_name })
      ]),
      YJ.el("p", { class: "esc-item", text: e.item }), // 时限D7：局报告（时限即将届满）
      YJ.esc.badge(e),
      button ? YJ.el("div", { class: "a-actions" }, [button]) : null,
      YJ.el("p", { class: "form-error", role: "alert", hidden: true })
    ]);
    if (button) {
      button.addEventListener("click", function () {
        var error = row.querySelector(".form-error");
        error.hidden = true;
        button.disabled = true;
        YJ.esc.acknowledge(e.id).then(function (res) {
          button.disabled = false;
          if (!res.ok) {
            error.textContent = (res.data.error && res.data.error.message) || "签收失败，请重试";
            error.hidden = false;
            return;
          }
          esc.merge(res.data);
          showEscalations(res.data.incident_id);
          esc.refresh(res.data.incident_id);
        });
      });
    }
    return row;
  }

  function renderReminders() {
    var rows = clockReminders();
    var box = document.getElementById("esc-rows");
    box.replaceChildren.apply(box, rows.map(reminder));
    var waiting = rows.filter(function (e) { return e.status !== "acknowledged"; }).length;
    document.getElementById("esc-count").textContent = String(waiting);
    document.getElementById("esc-panel").hidden = !rows.length;
  }

  // An incident's escalations changed: its assignment cards and the reminders are drawn again.
  function showEscalations(incidentId) {
    Object.keys(items).forEach(function (k) {
      if (items[k].incident_id === incidentId) place(items[k]);
    });
    renderReminders();
    YJ.tick();
  }

  function onEscalation(msg) {
    var d = msg.data, e = d.escalation;
    // A 12315 limit's escalation has no incident: the complaint panels show those limits.
    if (!e.incident_id) return;
    if (e.department !== dept) return;
    esc.merge(e);
    showEscalations(e.incident_id);
    esc.refresh(e.incident_id);
    if (d.what === "exhausted") {
      YJ.banner({ id: "esc-" + e.id, kind: "overdue", title: "升级通知已到最后一步，仍无人签收",
                  text: e.code + " " + (e.trigger_name || ""), href: "/incidents/" + e.incident_id, linkText: "查看事件" });
      beep();
    }
  }

  // --- clocks panel and roster ----------------------------------------------------------

  var clocksTimer = null;
  function refreshClocks() {
    if (clocksTimer) clearTimeout(clocksTimer);
    clocksTimer = setTimeout(function () {
      clocksTimer = null;
      YJ.fragment("/duty/clocks?department=" + encodeURIComponent(dept)).then(function (panel) {
        if (!panel) return;
        var old = document.getElementById("duty-clocks");
        if (old) old.replaceWith(panel);
        YJ.tick();
      });
    }, 200);
  }

  function followed(incidentId) {
    var panel = document.getElementById("duty-clocks");
    var ids = panel ? (panel.getAttribute("data-incidents") || "").split(" ") : [];
    return ids.indexOf(String(incidentId)) >= 0;
  }

  function shiftLine(s, cls) {
    var who = s.officer_name || "（空岗，无值班人员）";
    return YJ.el("li", { class: "shift " + (cls || "") + (s.officer_name ? "" : " shift-empty") }, [
      YJ.el("span", { class: "shift-time", text: YJ.fmtTime(s.starts_at) + " – " + YJ.fmtTime(s.ends_at) }),
      YJ.el("span", { class: "shift-who", text: who }),
      s.phone && s.phone_masked ? YJ.el("span", { class: "shift-phone", title: "完整号码仅对调度岗位显示", text: s.phone })
        : s.phone ? YJ.el("a", { class: "shift-phone", href: "tel:" + s.phone, text: s.phone })
              : YJ.el("span", { class: "shift-phone missing", text: "未登记电话" }),
      s.substitute_for ? YJ.el("span", { class: "shift-note", text: "替岗" + (s.handover_reason ? "：" + s.handover_reason : "") }) : null,
      s.phone_warning ? YJ.el("span", { class: "shift-warn", role: "note", title: "替岗人员的电话不是其在系统中登记的告警电话，请核实能否接通",
                                        text: "⚠ " + s.phone_warning }) : null
    ]);
  }

  function loadRoster() {
    var base = "/api/v1/departments/" + encodeURIComponent(dept);
    YJ.api("GET", base + "/on-duty").then(function (res) {
      var box = document.getElementById("on-duty");
      if (!res.ok) {
        box.replaceChildren(YJ.el("p", { class: "form-error", text: (res.data.error && res.data.error.message) || "读取失败" }));
        return;
      }
      var now = res.data.on_duty || [];
      box.replaceChildren.apply(box, now.length ? [YJ.el("ul", { class: "shifts now" }, now.map(function (s) { return shiftLine(s, "shift-now"); }))]
        : [YJ.el("p", { class: "no-cover", text: "当前无人值班（值班空档）" })]);
    });
    YJ.api("GET", base + "/shifts").then(function (res) {
      var ol = document.getElementById("shifts");
      if (!res.ok) { ol.replaceChildren(); return; }
      var now = YJ.now();
      // Shifts to come (the one on duty now is shown above).
      var coming = (res.data.shifts || []).filter(function (s) { return Date.parse(s.starts_at) > now; }).slice(0, SHIFTS_SHOWN);
      ol.replaceChildren.apply(ol, coming.length ? coming.map(function (s) { return shiftLine(s); })
        : [YJ.el("li", { class: "muted small", text: "未来7天没有排班" })]);
    });
  }

  // --- the push ---------------------------------------------------------------------------

  function onMessage(msg) {
    var d = msg.data || {};
    // Other panels of the board (the office's 来文, inbox.js) hear every event too, in order and once.
    (YJ.boardHooks || []).forEach(function (hook) {
      try { hook(msg); } catch (e) { if (window.console) console.error(e); }
    });
    if (msg.event === "assignment" && d.assignment) {
      upsert(d.assignment, d.what);
      if (d.assignment.department === dept) refreshClocks();
      esc.recheck(d.assignment.incident_id);
    } else if (msg.event === "incident" && d.incident) {
      esc.recheck(d.incident.id);
      var inc = d.incident;
      if (d.what === "withdrawn" || d.what === "archived" || d.what === "closed") {  // its tasks leave the board
        Object.keys(items).forEach(function (k) {
          if (items[k].incident_id !== inc.id) return;
          var card = document.getElementById("assignment-" + k);
          if (card) card.remove();
          delete items[k];
        });
        counts();
        refreshClocks();
        return;
      }
      Object.keys(items).forEach(function (k) {
        var a = items[k];
        if (a.incident_id !== inc.id) return;
        a.level = inc.level; a.level_numeral = inc.level_numeral; a.incident_title = inc.title;
        place(a);
      });
      counts();
      refreshClocks();
    } else if (msg.event === "clock" && d.firing) {
      var f = d.firing;
      if (msg.room === "dept:" + dept || f.department === dept || followed(f.incident_id)) {
        var overdue = d.what === "overdue";
        YJ.banner({ id: "clock-" + (f.deadline_id || msg.key), kind: overdue ? "overdue" : "warn",
                    title: overdue ? "时限已超时" : "时限预警", text: f.text || "",
                    href: f.incident_id ? "/incidents/" + f.incident_id : null, linkText: "查看事件" });
        if (overdue) beep();
      }
      refreshClocks();
    } else if (msg.event === "duty" && d.shift && d.shift.department === dept) {
      loadRoster();
    } else if (msg.event === "alert" && d.what === "handover_phone_off_record" && d.department === dept) {
      YJ.banner({ id: "alert-" + msg.key, kind: "warn", title: d.title || "值班提醒", text: d.message || "" });
      loadRoster();
    } else if (msg.event === "escalation" && d.escalation) {
      onEscalation(msg);
    }
  }

  function start() {
    var root = document.getElementById("duty");
    if (!root) return;
    data = YJ.data();
    plan = data.plan || {};
    dept = data.department;
    list = document.getElementById("assignments");
    closed = document.getElementById("closed");
    esc = YJ.esc.store(data.escalations, { department: dept, onChange: showEscalations });
    (data.assignments || []).forEach(function (a) { items[a.id] = a; place(a); });
    counts();
    renderReminders();
    YJ.sound.setUp();
    loadRoster();
    setInterval(loadRoster, ROSTER_EVERY);
    setInterval(function () {
      if (Object.keys(items).some(function (k) { return items[k].status === "pushed"; })) beep();
    }, REMIND_EVERY);
    YJ.live(onMessage, {
      onHello: function (first) {
        if (first) return;
        loadRoster(); // replayed events bring the assignments; the roster is read afresh
        refreshClocks();
        esc.refreshAll();
      }
    });
    YJ.tick();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
