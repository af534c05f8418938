/* Yingji forms: each form.api-form posts its fields as JSON to its data-url (the /api/v1 API).
 *
 * Empty fields are left out (the API names a missing required one in Chinese); inputs with
 * data-local-time are read as the plan's zone (Beijing time) and sent with their offset. On
 * an error the API's Chinese message is shown under the form and what was typed stays; on
 * success the form is cleared (or, with data-reload="true", the page is loaded again; with
 * data-after="incident", the browser goes to the new
 * incident) and the form fires "api:done" with the API's answer.
 */
(function () {
  "use strict";

  var YJ = window.YJ;

  function collect(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") return;
      var value = typeof el.value === "string" ? el.value.trim() : el.value;
      if (value === "") return;
      if (el.hasAttribute("data-local-time")) {
        var iso = YJ.localToIso(value);
        if (!iso) throw new Error("时间格式不正确，请重新选择");
        value = iso;
      }
      if (el.hasAttribute("data-integer") && /^\d{1,15}$/.test(value)) value = parseInt(value, 10);
      body[el.name] = value;
    });
    return body;
  }

  function say(form, selector, text) {
    var el = form.querySelector(selector);
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }

  function markInvalid(form, field) {
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) {
      el.removeAttribute("aria-invalid");
    });
    var el = field && form.elements.namedItem(field);
    if (el && el.setAttribute) {
      el.setAttribute("aria-invalid", "true");
      if (el.focus) el.focus();
    }
  }

  function submit(form, event) {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) return;
    // A choice that asks to be confirmed (Ⅰ级、Ⅱ级) is asked about once more.
    var chosen = form.querySelector("select option:checked[data-confirm]");
    if (chosen && !window.confirm(chosen.getAttribute("data-confirm"))) return;
    say(form, ".form-error", "");
    say(form, ".form-ok", "");
    var body;
    try { body = collect(form); } catch (e) { say(form, ".form-error", e.message); return; }
    var buttons = form.querySelectorAll("button[type=submit]");
    form.setAttribute("aria-busy", "true");
    buttons.forEach(function (b) { b.disabled = true; });
    YJ.api("POST", form.getAttribute("data-url"), body).then(function (res) {
      form.removeAttribute("aria-busy");
      buttons.forEach(function (b) { b.disabled = false; });
      if (!res.ok) {
        var error = (res.data && res.data.error) || {};
        say(form, ".form-error", error.message || "提交失败，请重试");
        markInvalid(form, error.field);
        return;
      }
      markInvalid(form, null);
      if (form.getAttribute("data-after") === "incident" && res.data && res.data.id) {
        window.location.assign("/incidents/" + encodeURIComponent(res.data.id));
        return;
      }
      if (form.getAttribute("data-reload") === "true") {  // the page shows the corrected record as it now is
        window.location.reload();
        return;
      }
      form.reset();
      say(form, ".form-ok", form.getAttribute("data-ok") || "已提交");
      form.dispatchEvent(new CustomEvent("api:done", { bubbles: true, detail: res.data }));
    });
  }

  function start() {
    document.querySelectorAll("form.api-form").forEach(function (form) {
      form.addEventListener("submit", function (event) { submit(form, event); });
      form.addEventListener("input", function () { say(form, ".form-ok", ""); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
