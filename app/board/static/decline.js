/* Yingji: 同意 / 不同意 a department's decline (否定报备) on the overview and the incident page.
 *
 * The buttons come with server-rendered cards and sections that the live push swaps in again,
 * so one listener on the document serves them all. Each posts to its data-url (the /api/v1
 * API) with YJ.api, as the boards' other buttons do; 不同意 asks for the reason first. The
 * change comes back by push: the card (or the assignments section) is fetched again.
 */
(function () {
  "use strict";

  function say(box, text) {
    var error = box && box.querySelector(".form-error");
    if (!error) return;
    error.textContent = text || "";
    error.hidden = !text;
  }

  function decide(button) {
    var box = button.closest(".decline-actions");
    var body = {};
    if (button.getAttribute("data-decline") === "approve") {
      if (!window.confirm("同意该否定报备？任务将关闭，措施退回指挥部另行安排，其时限继续计时。")) return;
    } else {
      var reason = window.prompt("不同意的理由（将告知该科室）");
      if (reason === null) return;
      if (!reason.trim()) { say(box, "请填写不同意的理由"); return; }
      body.reason = reason.trim();
    }
    say(box, "");
    var buttons = box ? box.querySelectorAll("button") : [button];
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    window.YJ.api("POST", button.getAttribute("data-url"), body).then(function (res) {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      if (!res.ok) {
        say(box, (res.data.error && res.data.error.message) || "提交失败，请重试");
        return;
      }
      if (box) box.replaceChildren(document.createTextNode(res.data.status === "declined" ? "已同意" : "已退回科室"));
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-decline]");
    if (button) decide(button);
  });
})();
