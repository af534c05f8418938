/* Yingji boards: escalations (升级通知) as the duty board and the overview show them.
 *
 * A board keeps the escalations of the incidents it follows as /board/escalations?incident=<id>
 * returns them (app/board/views.escalation_entries: the headline of incidents.escalation with
 * its deliveries, phones masked, and `open`: whether its item still waits for someone). The
 * page's data brings them at first; an "escalation" board event about an incident reads that
 * incident's again. YJ.esc.headline(e) says in one line where an escalation stands:
 *   已短信通知 王值班 · 02:14 / 已电话通知科室负责人 陈科长 · 02:24 / 升级至领导小组 · 已电话通知 申局长 · 02:29
 *   看板已提醒，未签收 · 02:19 起升级通知 / 已签收 · 王值班（短信签收）· 02:16 / 已升级至最后一步，仍无人签收
 * with a kind for its colour. Text is only ever put on the page as text (YJ.el).
 */
(function () {
  "use strict";

  var YJ = window.YJ;
  var CHANNEL = { sms: "短信", voice: "电话", board: "看板" };
  var PROBLEMS = ["undelivered", "failed", "skipped"];
  var FETCH_DELAY = 150;        // ms: the events of one step (step, sent) are read once
  var RUNNING_EVERY = 60000;    // delivery statuses change without an event (provider callbacks)

  function hhmm(iso) {
    var text = YJ.fmtTime(iso);
    return text === "—" ? "" : text.slice(11);
  }

  // 王值班（食品安全协调督查科） -> 王值班: the badge is short; the incident page has the full name.
  function shortName(name) {
    var text = String(name || "");
    var short = text.replace(/[（(][^（()）]*[)）]\s*$/, "").trim();
    return short || text;
  }

  function phoneAlerts(e) {
    return (e.deliveries || []).filter(function (d) {
      return d.purpose === "alert" && (d.channel === "sms" || d.channel === "voice");
    });
  }

  function last(list) { return list.length ? list[list.length - 1] : null; }

  // The latest SMS or call handed to the provider for this escalation.
  function latestNotice(e) { return last(phoneAlerts(e).filter(function (d) { return d.notified; })); }

  // The latest SMS or call that could not go (no phone, no one on duty, undelivered, failed).
  function latestProblem(e) {
    return last(phoneAlerts(e).filter(function (d) { return PROBLEMS.indexOf(d.status) >= 0; }));
  }

  function noticeText(d) {
    var how = CHANNEL[d.channel] || d.channel_name || "";
    var who = shortName(d.to_name), at = hhmm(d.at), text;
    if (d.audience === "leadership") text = "升级至领导小组 · 已" + how + "通知 " + who;
    else if (d.audience === "department_head") text = "已" + how + "通知科室负责人 " + who;
    else text = "已" + how + "通知 " + who;
    return text + (at ? " · " + at : "");
  }

  // {kind, text}: kind is board | notified | escalated | exhausted | ack | done.
  function headline(e) {
    var notice = latestNotice(e);
    if (e.status === "acknowledged") {
      var how = e.ack_channel_name ? "（" + e.ack_channel_name + "签收）" : "";
      var at = hhmm(e.stopped_at);
      return { kind: "ack", text: "已签收 · " + shortName(e.ack_by || "—") + how + (at ? " · " + at : "") };
    }
    if (e.status === "exhausted") {
      var last = notice ? "（最后：" + noticeText(notice) + "）" : "";
      return e.open ? { kind: "exhausted", text: "已升级至最后一步，仍无人签收" + last }
                    : { kind: "done", text: "升级通知曾到最后一步，事项此后已处理" + last };
    }
    if (e.status === "running") {
      if (notice) {
        return { kind: notice.audience === "duty_officer" ? "notified" : "escalated", text: noticeText(notice) };
      }
      var next = hhmm(e.next_at);
      return { kind: "board", text: "看板已提醒，未签收" + (next ? " · " + next + " 起升级通知" : "") };
    }
    var done = (e.status_name || e.status) + (e.stop_reason ? "：" + e.stop_reason : "");
    return { kind: "done", text: notice ? done + "（" + noticeText(notice) + "）" : done };
  }

  // What went wrong last, if it came after the latest notice: 未能通知 （无科室负责人）：没有可通知的科室负责人.
  function problem(e) {
    var bad = latestProblem(e), notice = latestNotice(e);
    if (!bad || (notice && notice.id > bad.id) || e.status !== "running") return null;
    return "未能通知 " + shortName(bad.to_name) + "：" + (bad.error || bad.status_name || bad.status);
  }

  // The badge of an escalation: <p class="esc-badge esc-KIND">, with what went wrong under it.
  function badge(e, tag) {
    var h = headline(e), trouble = problem(e);
    return YJ.el(tag || "p", { class: "esc-badge esc-" + h.kind, "data-escalation-id": e.id, "data-status": e.status,
                                title: e.item || "" }, [
      YJ.el("span", { class: "esc-badge-text", text: h.text }),
      trouble ? YJ.el("span", { class: "esc-trouble", text: trouble }) : null
    ]);
  }

  // Whether a stopped escalation is still worth showing: something went out by phone, or someone signed.
  function worthShowing(e) {
    if (e.status === "running" || e.status === "acknowledged" || (e.status === "exhausted" && e.open)) return true;
    return !!latestNotice(e);
  }

  // The escalations a board follows, per incident, read again when an event says one changed.
  // opts: {department, onChange(incidentId)}.
  function store(initial, opts) {
    opts = opts || {};
    var byIncident = {}, timers = {};

    (initial || []).forEach(function (e) { (byIncident[e.incident_id] = byIncident[e.incident_id] || []).push(e); });

    function refresh(incidentId) {
      if (!incidentId) return;
      if (timers[incidentId]) clearTimeout(timers[incidentId]);
      timers[incidentId] = setTimeout(function () {
        delete timers[incidentId];
        var url = "/board/escalations?incident=" + encodeURIComponent(incidentId) +
          (opts.department ? "&department=" + encodeURIComponent(opts.department) : "");
        YJ.api("GET", url).then(function (res) {
          if (res.ok && res.data && Array.isArray(res.data.escalations)) {
            byIncident[incidentId] = res.data.escalations;
          } else if (res.status === 404 || res.status === 403) {
            delete byIncident[incidentId]; // no longer this board's
          } else {
            return; // offline for a moment, or signed out: the next event or reconnect reads again
          }
          if (opts.onChange) opts.onChange(incidentId);
        });
      }, FETCH_DELAY);
    }

    // Apply an event's headline at once (the deliveries follow with the read it triggers).
    function merge(summary) {
      var list = byIncident[summary.incident_id] || (byIncident[summary.incident_id] = []);
      var found = null;
      list.forEach(function (e) { if (e.id === summary.id) found = e; });
      // At the moment of the event the item waits exactly while its escalation runs or has run out.
      var open = summary.status === "running" || summary.status === "exhausted";
      if (found) {
        Object.keys(summary).forEach(function (k) { if (k !== "step") found[k] = summary[k]; });
        found.open = open;
      } else {
        var fresh = { deliveries: [], open: open };
        Object.keys(summary).forEach(function (k) { if (k !== "step") fresh[k] = summary[k]; });
        list.push(fresh);
      }
    }

    function all() {
      var out = [];
      Object.keys(byIncident).forEach(function (k) { out = out.concat(byIncident[k]); });
      return out.sort(function (a, b) { return a.id - b.id; });
    }

    function of(incidentId) { return (byIncident[incidentId] || []).slice(); }

    // The latest escalation of an assignment (an assignment has one; a re-push would start another).
    function forAssignment(assignmentId) {
      return last(all().filter(function (e) { return e.assignment_id === assignmentId; }));
    }

    function incidents() { return Object.keys(byIncident).map(Number); }

    function refreshAll() { incidents().forEach(refresh); }

    // An exhausted escalation sends no more events; when its item changes (signed, done, the
    // report filed) the incident's change is the cue to read whether it still waits.
    function recheck(incidentId) {
      if ((byIncident[incidentId] || []).some(function (e) { return e.status === "exhausted" && e.open; })) {
        refresh(incidentId);
      }
    }

    // Delivery statuses (delivered, undelivered) come from the provider without an event.
    setInterval(function () {
      incidents().forEach(function (id) {
        if ((byIncident[id] || []).some(function (e) { return e.status === "running"; })) refresh(id);
      });
    }, RUNNING_EVERY);

    return { refresh: refresh, refreshAll: refreshAll, recheck: recheck, merge: merge, all: all, of: of,
             forAssignment: forAssignment, incidents: incidents };
  }

  // Acknowledge an escalation on the board (签收提醒); resolves {ok, data} as YJ.api.
  function acknowledge(id) {
    return YJ.api("POST", "/api/v1/escalations/" + encodeURIComponent(id) + "/ack", {});
  }

  YJ.esc = { headline: headline, problem: problem, badge: badge, store: store, acknowledge: acknowledge,
             worthShowing: worthShowing, hhmm: hhmm, shortName: shortName };
})();
