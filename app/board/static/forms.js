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
      if (el.type === "select-multiple") {  // a list of the chosen values (ids with data-integer)
        var picked = Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) {
          return el.hasAttribute("data-integer") && /^\d{1,15}$/.test(o.value) ? parseInt(o.value, 10) : o.value;
        });
        if (picked.length) body[el.name] = picked;
        return;
      }
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

  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (el) { el.remove(); });
    var summary = form.querySelector(".form-summary");
    if (summary) summary.hidden = true;
  }

  // Every error the API names goes next to its field, and all of them into a summary at the top of
  // the form that scrolls into view: one pass corrects the whole form.
  function showErrors(form, error) {
    clearErrors(form);
    var list = error.errors && error.errors.length ? error.errors : [error];
    var summary = form.querySelector(".form-summary");
    if (!summary) {
      summary = YJ.el("div", { class: "form-summary", role: "alert", tabindex: "-1" });
      form.insertBefore(summary, form.firstChild);
    }
    var first = null;
    var items = list.map(function (e, n) {
      var el = e.field && form.elements.namedItem(e.field);
      if (el && el.length && !el.setAttribute) el = el[0];  // a group of radio buttons
      if (el && el.setAttribute && el.type !== "hidden") {
        var id = "err-" + (form.id || "form") + "-" + n;
        el.setAttribute("aria-invalid", "true");
        el.setAttribute("aria-describedby", id);
        el.after(YJ.el("p", { class: "field-error", id: id, text: e.message }));
        first = first || el;
        var link = YJ.el("a", { href: "#", text: e.message });
        link.addEventListener("click", function (event) { event.preventDefault(); el.focus(); });
        return YJ.el("li", {}, [link]);
      }
      return YJ.el("li", { text: e.message });
    });
    summary.replaceChildren(YJ.el("p", { text: list.length > 1 ? "请修改以下 " + list.length + " 项后再提交：" : "请修改后再提交：" }),
                            YJ.el("ul", {}, items));
    summary.hidden = false;
    summary.scrollIntoView({ block: "start" });
    summary.focus({ preventScroll: true });
    say(form, ".form-error", list.length > 1 ? "有 " + list.length + " 项需要修改，见表单上方" : list[0].message);
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
        if (!error.message) error.message = "提交失败，请重试";
        showErrors(form, error);
        return;
      }
      clearErrors(form);
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

  // Listened for on the document, not on each form: a section the incident page reads again and swaps in
  // (its reports, with their 签发 and delivery forms) brings new forms that work at once.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.matches && form.matches("form.api-form")) submit(form, event);
  });
  document.addEventListener("input", function (event) {
    var form = event.target && event.target.closest ? event.target.closest("form.api-form") : null;
    if (form) say(form, ".form-ok", "");
  });
})();
