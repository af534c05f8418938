/* The office's board: reports from other bureaus (来文（局际报送）) and sendings that failed.
 *
 * - A report another bureau's Yingji delivers here comes as the push's "inbound" event
 *   {what: received, sound: true, inbound}: its row is added to the 来文 panel at once and a
 *   chime sounds (sound.js; browsers need the 启用提示音 click first). 签收 posts to
 *   /api/v1/inbox/<id>/sign-for; the row then says 已签收 (as it does when another officer signs
 *   for it: {what: signed_for}).
 * - A report that could not be sent to another bureau for good comes as "dispatch"
 *   {what: failed}: a banner asks the office to send it another way and record it.
 * Loaded before duty.js or overview.js, which hand it every event in order (YJ.boardHooks).
 */
(function () {
  "use strict";

  var YJ = window.YJ = window.YJ || {};
  var TAIL = "请以其他方式报送并登记";
  var kinds = null;

  function kindName(kind) {
    if (kinds === null) kinds = (YJ.data && YJ.data().report_kinds) || {};
    return kinds[kind] || kind;
  }

  function panel() { return document.getElementById("inbox-panel"); }

  function rows() { return document.getElementById("inbox-rows"); }

  function counts() {
    var box = rows();
    if (!box) return;
    var waiting = box.querySelectorAll('.inbox-row[data-status="pending"]').length;
    document.getElementById("inbox-count").textContent = String(waiting);
    var any = !!box.children.length;
    document.getElementById("inbox-table").hidden = !any;
    document.getElementById("inbox-empty").hidden = any;
  }

  function markSigned(row, m) {
    row.setAttribute("data-status", "signed");
    row.classList.add("is-signed");
    var cell = row.querySelector(".inbox-action");
    cell.replaceChildren(YJ.el("span", { class: "inbox-signed", text: "已签收 " + YJ.fmtTime(m.receipt_at) }));
    counts();
  }

  function signFor(row, button) {
    var id = row.getAttribute("data-inbound-id");
    var error = row.querySelector(".form-error");
    error.hidden = true;
    button.disabled = true;
    YJ.api("POST", "/api/v1/inbox/" + encodeURIComponent(id) + "/sign-for", {}).then(function (res) {
      button.disabled = false;
      if (!res.ok) {
        error.textContent = (res.data.error && res.data.error.message) || "签收失败，请重试";
        error.hidden = false;
        return;
      }
      markSigned(row, res.data.inbound);
    });
  }

  function bind(row) {
    var button = row.querySelector(".btn-sign-for");
    if (button) button.addEventListener("click", function () { signFor(row, button); });
  }

  // The same row as the page's template draws (fragments/duty_inbox_panel.html).
  function rowOf(m) {
    var number = m.document_number || "—";
    return YJ.el("tr", { class: "inbox-row is-new", id: "inbound-" + m.id, "data-inbound-id": m.id, "data-status": "pending" }, [
      YJ.el("td", { "data-label": "报送单位", text: m.sender_name || m.sender }),
      YJ.el("td", { "data-label": "类别" }, [kindName(m.kind), m.skip_level ? " " : null,
        m.skip_level ? YJ.el("span", { class: "tag skip-level-tag", text: "越级" }) : null]),
      YJ.el("td", { "data-label": "标题" }, [m.incident_id ? YJ.el("a", { href: "/incidents/" + m.incident_id, text: m.title }) : m.title]),
      YJ.el("td", { "data-label": "文号" }, [m.sha256 ? YJ.el("a", {
        class: "doc-number", href: "/api/v1/inbox/" + m.id + "/document.pdf", target: "_blank", rel: "noopener",
        title: "来文（PDF）", text: number }) : number]),
      YJ.el("td", { "data-label": "收到", class: "time", text: YJ.fmtTime(m.received_at) }),
      YJ.el("td", { "data-label": "签收", class: "inbox-action" }, [
        YJ.el("button", { type: "button", class: "btn btn-primary btn-sign-for", "data-inbound-id": m.id, text: "签收" }),
        YJ.el("p", { class: "form-error", role: "alert", hidden: true })
      ])
    ]);
  }

  function onInbound(d) {
    var m = d.inbound;
    if (!m || !panel()) return;
    var old = document.getElementById("inbound-" + m.id);
    if (d.what === "signed_for" || m.signed_for) {
      if (old) markSigned(old, m);
      return;
    }
    if (!old) {
      var row = rowOf(m);
      rows().appendChild(row);
      bind(row);
      counts();
    }
    if (d.sound) YJ.sound.chime();
  }

  // 报送郑州市市场监督管理局失败：…，请以其他方式报送并登记
  YJ.dispatchAlertText = function (d) {
    var error = String(d.error || "原因不明").replace(/[，,]?\s*请以其他方式报送并登记[。]?$/, "");
    return "报送" + (d.recipient_name || d.target) + "失败：" + error + "，" + TAIL;
  };

  function onDispatch(d) {
    if (d.what !== "failed") return;
    YJ.banner({ id: "dispatch-" + d.dispatch_id, kind: "overdue", title: YJ.dispatchAlertText(d),
                href: d.incident_id ? "/incidents/" + d.incident_id + (d.report_id ? "#report-" + d.report_id : "") : null,
                linkText: "登记送达" });
    YJ.sound.beep();
  }

  (YJ.boardHooks = YJ.boardHooks || []).push(function (msg) {
    var d = msg.data || {};
    if (msg.event === "inbound") onInbound(d);
    else if (msg.event === "dispatch") onDispatch(d);
  });

  function start() {
    var box = rows();
    if (box) Array.prototype.forEach.call(box.querySelectorAll(".inbox-row"), bind);
    // The banners the page was drawn with (sendings refused before it opened) close as YJ.banner's do.
    document.querySelectorAll("#alerts .banner.dispatch-failed .banner-close").forEach(function (button) {
      button.addEventListener("click", function () { button.closest(".banner").remove(); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
