/* Yingji complaint centre (315投诉中心): the centre's page and one complaint's page.
 *
 * - Forms (form.capi-form) post JSON to their data-url with the session's CSRF token; the API's
 *   Chinese message shows under the form and what was typed stays. After a success the panel is
 *   fetched again (the centre's page) or the page reloads (a complaint's page).
 * - The push: complaint, alert (surge) and warning events make the centre's panel fetch itself
 *   again, unless someone is typing in it; then it waits until they are done.
 * - "显示完整联系方式" asks the API (audited) and shows the phone with textContent.
 * Text from users only ever reaches the page through the server's escaping or textContent.
 */
(function () {
  "use strict";

  var YJ, panelTimer = null, pending = false;
  var RETRY_BUSY = 2000, POLL_EVERY = 60000;

  function say(form, selector, text) {
    var el = form.querySelector(selector);
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }

  function collect(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") return;
      var value = typeof el.value === "string" ? el.value.trim() : el.value;
      if (value !== "") body[el.name] = value;
    });
    return body;
  }

  function submit(form) {
    if (form.getAttribute("aria-busy") === "true") return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) return;
    say(form, ".form-error", "");
    say(form, ".form-ok", "");
    var buttons = form.querySelectorAll("button[type=submit]");
    form.setAttribute("aria-busy", "true");
    buttons.forEach(function (b) { b.disabled = true; });
    YJ.api("POST", form.getAttribute("data-url"), collect(form)).then(function (res) {
      form.removeAttribute("aria-busy");
      buttons.forEach(function (b) { b.disabled = false; });
      if (!res.ok) {
        var error = (res.data && res.data.error) || {};
        say(form, ".form-error", error.message || "提交失败，请重试");
        var field = error.field && form.elements.namedItem(error.field);
        if (field && field.setAttribute) { field.setAttribute("aria-invalid", "true"); field.focus(); }
        return;
      }
      say(form, ".form-ok", form.getAttribute("data-ok") || "已提交");
      if (form.classList.contains("triage-form") && res.data) {
        // The panel is drawn again without this complaint: the confirmation must outlive it.
        YJ.banner({ id: "triaged-" + res.data.tracking_no, kind: "info", title: "已分流",
                    text: res.data.tracking_no + " 已分流至" + (res.data.department_name || "承办科室") });
      }
      if (document.getElementById("complaint")) { window.location.reload(); return; }
      Array.prototype.forEach.call(form.elements, function (el) { if (el.name && el.type !== "hidden") el.defaultValue = el.value; });
      refreshPanel(true);
    });
  }

  // Someone is working in the panel: a field has focus, or holds something not yet sent.
  function busy(panel) {
    var active = document.activeElement;
    if (active && panel.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return true;
    return Array.prototype.some.call(panel.querySelectorAll("input[type=text], input[type=search], textarea"), function (el) {
      return el.value !== el.defaultValue;
    });
  }

  function refreshPanel(now) {
    var panel = document.getElementById("complaints-panel");
    if (!panel) return;
    if (panelTimer) clearTimeout(panelTimer);
    panelTimer = setTimeout(function () {
      panelTimer = null;
      var current = document.getElementById("complaints-panel");
      if (busy(current)) { pending = true; panelTimer = setTimeout(function () { refreshPanel(true); }, RETRY_BUSY); return; }
      pending = false;
      var open = Array.prototype.map.call(current.querySelectorAll("details[open]"), function (d) {
        var item = d.closest("[data-warning], [data-tracking]");
        return item ? item.getAttribute("data-warning") || item.getAttribute("data-tracking") : null;
      });
      YJ.fragment("/complaints/panel" + window.location.search).then(function (fresh) {
        if (!fresh) return;
        open.forEach(function (key) {
          if (!key) return;
          var item = fresh.querySelector('[data-warning="' + key + '"] details, [data-tracking="' + key + '"] details');
          if (item) item.open = true;
        });
        document.getElementById("complaints-panel").replaceWith(fresh);
        YJ.tick();
      });
    }, now ? 0 : 300);
  }

  function onMessage(msg) {
    var d = msg.data || {};
    if (msg.event === "alert" && d.what === "complaint_surge") {
      YJ.banner({ id: "surge-" + (d.surge && d.surge.id), kind: "overdue", title: "投诉高峰", text: d.message || "",
                  href: d.surge && d.surge.incident_id ? "/incidents/" + d.surge.incident_id : null, linkText: "查看事件" });
    }
    if (msg.event === "complaint" && d.what === "limits_recounted") {
      YJ.banner({ id: "recount-" + msg.key, kind: "info", title: "办理时限已重新计算",
                  text: d.message + "：" + (d.changes || []).slice(0, 5).map(function (c) {
                    return c.tracking_no + " " + c.summary; }).join("；") + ((d.changes || []).length > 5 ? "……" : "") });
    }
    if (msg.event === "complaint" && (d.what === "limit_warning" || d.what === "limit_overdue")) {
      YJ.banner({ id: "climit-" + (d.limit && d.limit.id) + d.what, kind: d.what === "limit_overdue" ? "overdue" : "warn",
                  title: d.what === "limit_overdue" ? "投诉举报办理已超期" : "投诉举报办理时限即将到期", text: d.message || "" });
    }
    if (msg.event === "complaint" || msg.event === "warning" || (msg.event === "alert" && /^complaint_surge/.test(d.what || ""))) {
      var page = document.getElementById("complaint");
      if (page) {
        var c = d.complaint || {};
        if (c.tracking_no === page.getAttribute("data-tracking")) {
          YJ.banner({ id: "changed", kind: "info", title: "此投诉举报已更新：" + (c.status_name || ""),
                      href: window.location.pathname, linkText: "刷新查看" });
        }
        return;
      }
      refreshPanel(false);
    }
  }

  function showContact(button) {
    button.disabled = true;
    YJ.api("POST", button.getAttribute("data-url"), {}).then(function (res) {
      button.disabled = false;
      if (!res.ok) {
        YJ.banner({ id: "contact", kind: "warn", title: (res.data.error && res.data.error.message) || "读取失败" });
        return;
      }
      document.getElementById("contact-phone").textContent = res.data.phone || "";
      document.getElementById("contact-name").textContent = res.data.name || "";
      document.getElementById("contact-address").textContent = res.data.address || "—";
      button.remove();
    });
  }

  function start() {
    YJ = window.YJ;
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList || !form.classList.contains("capi-form")) return;
      event.preventDefault();
      submit(form);
    });
    var contact = document.getElementById("show-contact");
    if (contact) contact.addEventListener("click", function () { showContact(contact); });
    document.addEventListener("focusout", function () { if (pending) refreshPanel(false); });
    YJ.live(onMessage, { onHello: function (first) { if (!first) refreshPanel(false); } });
    // Leaders and the office hear surges and warnings, not every complaint: look again now and then.
    if (document.getElementById("complaints-panel")) setInterval(function () { refreshPanel(false); }, POLL_EVERY);
    YJ.tick();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
