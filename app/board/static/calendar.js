/* The calendar page's notice form: rows of holidays become the notice's breaks, sent with PUT.
 *
 * Holidays given the same first and last day are one break (国庆节、中秋节 together); an empty row is
 * left out, and the API names every statutory day that is then missing. On an error each problem the
 * API lists is shown and what was typed stays; on success the page shows the year as it now is.
 */
(function () {
  "use strict";

  var YJ = window.YJ;

  function breaksOf(form) {
    var byDates = {};
    var out = [];
    form.querySelectorAll("tr[data-holiday]").forEach(function (row) {
      var code = row.getAttribute("data-holiday");
      var from = form.elements["from-" + code].value.trim();
      var to = form.elements["to-" + code].value.trim();
      var work = form.elements["workdays-" + code].value.split(/[,，、\s]+/).filter(Boolean);
      if (!from && !to && !work.length) return;
      var key = from + "/" + to;
      var item = byDates[key];
      if (!item || !from) {
        item = { holidays: [], from: from, to: to, workdays: [] };
        byDates[key] = item;
        out.push(item);
      }
      item.holidays.push(code);
      work.forEach(function (d) { if (item.workdays.indexOf(d) < 0) item.workdays.push(d); });
    });
    return out;
  }

  function show(form, message, problems) {
    var box = form.querySelector(".form-error");
    var list = form.querySelector(".form-problems");
    box.textContent = message || "";
    box.hidden = !message;
    list.replaceChildren.apply(list, (problems || []).map(function (p) { return YJ.el("li", { text: p }); }));
    list.hidden = !(problems && problems.length);
  }

  function submit(form, event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (!window.confirm(button.getAttribute("data-confirm"))) return;
    show(form, "", []);
    var body = { year: parseInt(form.getAttribute("data-year"), 10), breaks: breaksOf(form) };
    ["title", "document_no", "reason"].forEach(function (name) {
      var value = form.elements[name] ? form.elements[name].value.trim() : "";
      if (value) body[name] = value;
    });
    button.disabled = true;
    YJ.api("PUT", form.getAttribute("data-url"), body).then(function (res) {
      button.disabled = false;
      if (res.ok) { window.location.reload(); return; }
      var error = res.data.error || {};
      show(form, error.problems ? "放假通知有误，未录入：" : error.message, error.problems || []);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("notice-form");
    if (form) form.addEventListener("submit", function (event) { submit(form, event); });
  });
})();
