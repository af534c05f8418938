/* Yingji registration form: after a category is chosen, show the plan's suggested level and
 * lead department (GET /api/v1/plan/suggest); forms.js posts the form and opens the new incident.
 */
(function () {
  "use strict";

  var YJ = window.YJ;

  function show(s) {
    var plan = YJ.data().plan || {};
    var lv = s.level && plan.levels[s.level];
    var badge = document.getElementById("suggest-level");
    badge.className = "lv lv-" + (lv ? lv.colour : "grey");
    badge.textContent = lv ? lv.numeral + "级 " + lv.name : "预案未给出建议等级";
    badge.setAttribute("data-level", s.level || "");
    document.getElementById("suggest-lead").textContent = (plan.departments || {})[s.lead_department] || s.lead_department;
    var support = (s.support_departments || []).map(function (c) { return (plan.departments || {})[c] || c; });
    document.getElementById("suggest-support").textContent = support.length ? "启动响应后配合科室：" + support.join("、") : "";
    var hints = document.getElementById("suggest-hints");
    hints.replaceChildren.apply(hints, (s.hints || []).map(function (h) { return YJ.el("li", { text: h }); }));
    var use = document.getElementById("suggest-use");
    if (use) use.hidden = !s.level;
    document.getElementById("suggestion").hidden = false;
  }

  function start() {
    var category = document.getElementById("category");
    if (!category) return;
    var asked = 0;
    category.addEventListener("change", function () {
      var code = category.value, mine = ++asked;
      if (!code) { document.getElementById("suggestion").hidden = true; return; }
      YJ.api("GET", "/api/v1/plan/suggest?category=" + encodeURIComponent(code)).then(function (res) {
        if (mine !== asked || !res.ok) return; // a later choice won, or the plan refused it
        show(res.data);
      });
    });
    var use = document.getElementById("suggest-use");
    if (use) {
      use.addEventListener("click", function () {
        var code = document.getElementById("suggest-level").getAttribute("data-level");
        var level = document.getElementById("level");
        if (code && level) { level.value = code; level.focus(); }
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
