/* The complaints panel of a department's duty board: fetched again when a complaint of the
 * department changes (the push's `complaint` events, heard on the board's own socket), and every
 * minute, since the working days left change with the date. Loaded before duty.js, so it starts
 * on DOMContentLoaded, when duty.js has opened the socket.
 */
(function () {
  "use strict";

  var REFRESH_EVERY = 60000, timer = null;

  function refresh() {
    var YJ = window.YJ, panel = document.getElementById("duty-complaints");
    if (!YJ || !panel) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () {
      timer = null;
      var dept = panel.getAttribute("data-department");
      YJ.fragment("/duty/complaints?department=" + encodeURIComponent(dept)).then(function (fresh) {
        var old = document.getElementById("duty-complaints");
        if (!fresh || !old) return;
        old.replaceWith(fresh);
        YJ.tick();
      });
    }, 200);
  }

  function start() {
    var YJ = window.YJ;
    if (!YJ || !document.getElementById("duty-complaints")) return;
    if (YJ.socket) {
      YJ.socket.on("board", function (msg) {
        if (!msg) return;
        var d = msg.data || {};
        if (msg.event === "alert" && d.what === "complaint_surge") {
          // The duty board's own script shows no alerts of this kind: the banner is shown here.
          YJ.banner({ id: "surge-" + (d.surge && d.surge.id), kind: "overdue", title: "投诉高峰", text: d.message || "",
                      href: d.surge && d.surge.incident_id ? "/incidents/" + d.surge.incident_id : null,
                      linkText: "查看事件" });
        }
        if (msg.event === "complaint" && d.what === "limits_recounted") {
          YJ.banner({ id: "recount-" + msg.key, kind: "info", title: "办理时限已重新计算", text: d.message || "" });
        }
        if (msg.event === "complaint" && (d.what === "limit_warning" || d.what === "limit_overdue")) {
          YJ.banner({ id: "climit-" + (d.limit && d.limit.id) + d.what, kind: d.what === "limit_overdue" ? "overdue" : "warn",
                      title: d.what === "limit_overdue" ? "投诉举报办理已超期" : "投诉举报办理时限即将到期",
                      text: d.message || "", href: d.complaint ? "/complaints/" + encodeURIComponent(d.complaint.tracking_no) : null,
                      linkText: "查看" });
        }
        if (msg.event === "complaint" || (msg.event === "alert" && /^complaint_surge/.test(d.what || ""))) refresh();
      });
      YJ.socket.on("hello", refresh);
    }
    setInterval(refresh, REFRESH_EVERY);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
