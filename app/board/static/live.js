/* Yingji boards: the live push (Socket.IO namespace /board), in order and without gaps.
 *
 * The server numbers events per room. The page was rendered with the last number of each
 * of its rooms (read before its data), so the board starts from there. On `hello` (first
 * connect and every reconnect) and whenever a number is skipped, the board asks `resume`
 * with the last number it applied and gets the missed events, oldest first. A number
 * already applied is dropped; the same change sent to two rooms shares its `key` and is
 * handed to the page once.
 *
 * YJ.live(onMessage, {onHello}) starts it; the page's handler gets {room, seq, key, event,
 * data, at}. The element #conn shows 已连接 / 连接中断，正在重连….
 */
(function () {
  "use strict";

  var YJ = window.YJ;
  var KEYS_KEPT = 5000;      // how many event keys are remembered for de-duplication
  var RESUME_WAIT = 8000;    // ms to wait for the answer to `resume` before asking again
  // Ask now and then anyway: an event stored but not pushed (a scheduler process without a
  // message queue, a failed emit) reaches the board within this time even if nothing follows it.
  var CATCH_UP_EVERY = 30000;

  function indicator(state, text) {
    var el = document.getElementById("conn");
    if (!el) return;
    el.setAttribute("data-state", state);
    el.textContent = text;
  }

  YJ.live = function (onMessage, opts) {
    opts = opts || {};
    var data = YJ.data();
    var last = {};          // room -> last sequence number applied
    var keys = {}, order = [];
    var resuming = {};      // room -> true while a `resume` is unanswered
    var held = {};          // room -> messages that arrived while resuming, or after a gap
    var connectedOnce = false;

    Object.keys(data.seqs || {}).forEach(function (room) { last[room] = data.seqs[room]; });

    if (typeof window.io !== "function") {
      indicator("down", "实时连接组件未加载，请联系管理员");
      return null;
    }
    var socket = window.io("/board", { reconnectionDelay: 500, reconnectionDelayMax: 5000 });
    var state = YJ.liveState = { last: last, socket: socket, applied: 0, resumes: 0 };
    YJ.socket = socket;

    function deliver(msg) {
      if (msg.key) {
        if (keys[msg.key]) return;
        keys[msg.key] = true;
        order.push(msg.key);
        if (order.length > KEYS_KEPT) delete keys[order.shift()];
      }
      state.applied += 1;
      try { onMessage(msg); } catch (e) { if (window.console) console.error(e); }
    }

    function hold(msg) { (held[msg.room] = held[msg.room] || []).push(msg); }

    // Apply one pushed message of a room if it is the next number; otherwise hold it and resume.
    function take(msg) {
      if (!msg || typeof msg.seq !== "number" || !msg.room) return;
      var room = msg.room;
      if (resuming[room]) { hold(msg); return; }
      var prev = last[room];
      if (prev === undefined) { last[room] = msg.seq; deliver(msg); return; }
      if (msg.seq <= prev) return; // applied already (a replay, or the push raced the resume)
      if (msg.seq > prev + 1) { hold(msg); resume([room]); return; }
      last[room] = msg.seq;
      deliver(msg);
    }

    function resume(rooms) {
      var ask = {}, asked = [];
      rooms.forEach(function (room) {
        if (resuming[room]) return;
        resuming[room] = true;
        ask[room] = last[room] || 0;
        asked.push(room);
      });
      if (!asked.length) return;
      state.resumes += 1;
      socket.timeout(RESUME_WAIT).emit("resume", ask, function (err, missed) {
        asked.forEach(function (room) { resuming[room] = false; });
        if (err) { // no answer (the connection dropped?): `hello` after the reconnect asks again
          if (socket.connected) setTimeout(function () { resume(asked); }, 1000);
          return;
        }
        if (missed && missed.reload) { // what it missed is no longer kept: draw the page afresh
          window.location.reload();
          return;
        }
        var list = Array.isArray(missed) ? missed : (missed && missed.messages) || [];
        list.forEach(function (msg) {
          if (!msg || typeof msg.seq !== "number") return;
          if (msg.seq > (last[msg.room] || 0)) { last[msg.room] = msg.seq; deliver(msg); }
        });
        asked.forEach(function (room) {
          var queue = (held[room] || []).sort(function (a, b) { return a.seq - b.seq; });
          held[room] = [];
          queue.forEach(take);
        });
      });
    }

    socket.on("hello", function (hello) {
      hello = hello || {};
      YJ.setServerNow(hello.server_time);
      indicator("connected", "已连接");
      var rooms = hello.rooms || {}, behind = [];
      Object.keys(rooms).forEach(function (room) {
        var theirs = rooms[room];
        if (last[room] === undefined) last[room] = theirs;
        else if (theirs > last[room]) behind.push(room);
        else if (theirs < last[room]) last[room] = theirs; // the server's numbering restarted
      });
      if (behind.length) resume(behind);
      var first = !connectedOnce;
      connectedOnce = true;
      if (opts.onHello) opts.onHello(first, hello);
    });

    socket.on("board", take);

    socket.on("disconnect", function (reason) {
      indicator("down", "连接中断，正在重连…");
      // The server closed it on purpose (a restart): the client does not retry by itself.
      if (reason === "io server disconnect") setTimeout(function () { socket.connect(); }, 1000);
    });

    socket.on("connect_error", function (err) {
      var info = (err && err.data) || {};
      if (info.code === "unauthorised" || info.code === "no_board") {
        // Not a network problem: retrying would not help.
        indicator("refused", info.code === "no_board" ? "无实时推送" : "登录已失效，请刷新页面重新登录");
        return;
      }
      indicator("down", "连接中断，正在重连…");
      // Refused by the server (not a network error): try again in a while.
      if (!socket.active) setTimeout(function () { socket.connect(); }, 5000);
    });

    setInterval(function () {
      if (socket.connected && connectedOnce) resume(Object.keys(last));
    }, CATCH_UP_EVERY);

    // The browser knows before the socket does: close at once, reconnect when the network is back.
    window.addEventListener("offline", function () {
      indicator("down", "连接中断，正在重连…");
      if (socket.io && socket.io.engine) socket.io.engine.close();
    });

    return socket;
  };
})();
