// chat.js: what only the page can know, reported to the server over the
// window's socket. "delivered" when an agent's message is in the page (in
// the agent console: a consumer's, see data-report-from);
// "seen" when at least half of its bubble (or half the viewport, for a bubble
// taller than that) has been in view of a visible, focused tab for DWELL ms.
// Visibility is read through document.visibilityState and its
// visibilitychange event, focus through document.hasFocus() and focus/blur:
// exactly those, so tests can play a background tab (design.md §3).
(function () {
  "use strict";

  var DWELL = 600; // ms a bubble must stay in view before it counts as seen
  // Reports are batched: a burst of messages (or of dwell timers ending)
  // goes out as a few frames, far below the server's flood limit.
  var REPORT_EVERY = 100; // ms
  var REPORT_ITEMS = 200;
  var TYPING_EVERY = 3000; // at most one COMPOSING per this many ms
  var PAUSE_AFTER = 4000; // ms without input before PAUSE

  var socket = null; // htmx ws extension's wrapper; queues while closed
  var chat = null;
  var list = null;
  var marker = null;
  var reported = { delivered: new WeakSet(), seen: new WeakSet() };
  var pending = { delivered: [], seen: [] };
  var flushTimer = 0;
  var inView = new Map(); // bubble -> true while enough of it is in view
  var dwell = new Map(); // bubble -> timer
  var unseenWhileHidden = 0;
  var baseTitle = document.title;

  function send(obj) {
    if (socket) socket.send(JSON.stringify(obj));
  }

  function report(kind, el) {
    if (reported[kind].has(el)) return;
    reported[kind].add(el);
    pending[kind].push({ dialogId: el.dataset.dialogId, seq: Number(el.dataset.seq) });
    if (!flushTimer) flushTimer = setTimeout(flushReports, REPORT_EVERY);
  }

  function flushReports() {
    flushTimer = 0;
    ["delivered", "seen"].forEach(function (kind) {
      // A long history arrives at once: its reports go in frames of at
      // most REPORT_ITEMS, well under the server's frame limit (32 KiB).
      for (var i = 0; i < pending[kind].length; i += REPORT_ITEMS) {
        send({ type: "report", status: kind, items: pending[kind].slice(i, i + REPORT_ITEMS) });
      }
      pending[kind] = [];
    });
  }

  function attentive() {
    return document.visibilityState === "visible" && document.hasFocus();
  }

  // The list says whose messages this page reports on: the agent's in the
  // customer's window, the consumer's in the agent console.
  function isAgentMessage(el) {
    var from = (list && list.dataset.reportFrom) || "agent";
    return el.matches && el.matches('[data-testid="message"][data-from="' + from + '"][data-seq]');
  }

  // --- seen: IntersectionObserver + visibility + focus + dwell ---------------
  function enough(entry) {
    if (!entry.isIntersecting) return false;
    if (entry.intersectionRatio >= 0.5) return true;
    var root = entry.rootBounds;
    return !!root && entry.intersectionRect.height >= root.height / 2;
  }

  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var el = entry.target;
      if (enough(entry)) {
        inView.set(el, true);
        if (el.dataset.unread === "1") clearUnread(el);
      } else {
        inView.delete(el);
      }
      consider(el);
    });
  }, { threshold: [0, 0.1, 0.25, 0.5, 0.75, 1] });

  function consider(el) {
    var ok = inView.has(el) && attentive() && el.isConnected;
    if (ok && !dwell.has(el) && !reported.seen.has(el)) {
      dwell.set(el, setTimeout(function () {
        dwell.delete(el);
        if (inView.has(el) && attentive() && el.isConnected) {
          report("seen", el);
          observer.unobserve(el);
          inView.delete(el);
        }
      }, DWELL));
    } else if (!ok && dwell.has(el)) {
      clearTimeout(dwell.get(el));
      dwell.delete(el);
    }
  }

  function reconsiderAll() {
    inView.forEach(function (_, el) { consider(el); });
    dwell.forEach(function (_, el) { consider(el); });
  }

  // --- bubbles arriving ------------------------------------------------------
  function atBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  function scrollToBottom() {
    list.scrollTop = list.scrollHeight;
    marker.hidden = true;
  }

  function clearUnread(el) {
    delete el.dataset.unread;
    if (!list.querySelector('[data-unread="1"]')) marker.hidden = true;
  }

  function adopt(el, live) {
    if (!isAgentMessage(el)) return;
    report("delivered", el);
    if (!reported.seen.has(el)) observer.observe(el);
    if (live && document.visibilityState !== "visible") {
      unseenWhileHidden++;
      updateTitle();
    }
  }

  // Times come from the server in UTC (it does not know the customer's
  // zone); the page shows them in the customer's own.
  function localTimes(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) el.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    });
  }

  function onInserted(nodes, wasAtBottom) {
    var agentArrived = false;
    nodes.forEach(function (node) {
      if (node.nodeType !== 1) return;
      localTimes(node);
      var els = isAgentMessage(node) ? [node] : Array.prototype.slice.call(node.querySelectorAll ? node.querySelectorAll('[data-testid="message"]') : []);
      els.forEach(function (el) {
        if (isAgentMessage(el)) agentArrived = true;
        adopt(el, true);
        if (!wasAtBottom && isAgentMessage(el)) el.dataset.unread = "1";
      });
    });
    if (wasAtBottom) scrollToBottom();
    else if (agentArrived) marker.hidden = false;
  }

  function updateTitle() {
    document.title = unseenWhileHidden > 0 ? "(" + unseenWhileHidden + ") new · " + baseTitle : baseTitle;
  }

  // --- the composer ----------------------------------------------------------
  var lastComposing = 0;
  var pauseTimer = 0;

  function typed() {
    var now = Date.now();
    if (now - lastComposing > TYPING_EVERY) {
      lastComposing = now;
      send({ type: "typing", state: "COMPOSING" });
    }
    clearTimeout(pauseTimer);
    pauseTimer = setTimeout(function () {
      lastComposing = 0;
      send({ type: "typing", state: "PAUSE" });
    }, PAUSE_AFTER);
  }

  function sent() {
    clearTimeout(pauseTimer);
    lastComposing = 0;
  }

  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (!t || t.id !== "composer") return;
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      if (t.value.trim() !== "") t.form.requestSubmit();
    }
  });

  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "composer") typed();
  });

  // --- connection banner while the browser's own socket is down --------------
  function banner(state, text) {
    var el = document.getElementById("connection");
    if (!el) return;
    el.dataset.state = state;
    el.className = "connection connection-" + state;
    el.textContent = text;
  }

  function init() {
    chat = document.querySelector("[ws-connect]"); // the window's or the console's main
    list = document.getElementById("messages");
    marker = document.getElementById("new-marker");
    if (!chat || !list) return;

    marker.addEventListener("click", function () { scrollToBottom(); });
    list.addEventListener("scroll", function () {
      if (atBottom()) marker.hidden = true;
    }, { passive: true });

    new MutationObserver(function (records) {
      var nodes = [];
      records.forEach(function (r) { r.addedNodes.forEach(function (n) { nodes.push(n); }); });
      if (nodes.length) onInserted(nodes, list.dataset.stick !== "0");
    }).observe(list, { childList: true });
    // Remember, before a swap, whether the customer was at the bottom.
    chat.addEventListener("htmx:wsBeforeMessage", function () {
      list.dataset.stick = atBottom() ? "1" : "0";
    });

    chat.addEventListener("htmx:wsOpen", function (e) {
      socket = e.detail.socketWrapper;
    });
    chat.addEventListener("htmx:wsConnecting", function () {
      if (socket) banner("reconnecting", "Connection lost. Reconnecting…");
    });
    chat.addEventListener("htmx:wsClose", function (e) {
      var code = e.detail.event && e.detail.event.code;
      if ([1006, 1011, 1012, 1013].indexOf(code) >= 0) banner("reconnecting", "Connection lost. Reconnecting…");
      else banner("offline", "Disconnected. Reload the page to chat again.");
    });
    chat.addEventListener("htmx:wsAfterSend", function (e) {
      var form = e.target;
      if (form && form.id === "composer-form") {
        form.reset();
        sent();
      }
    });
    window.addEventListener("offline", function () { banner("offline", "You are offline. We'll reconnect when we can."); });

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") {
        unseenWhileHidden = 0;
        updateTitle();
      }
      reconsiderAll();
    });
    window.addEventListener("focus", reconsiderAll);
    window.addEventListener("blur", reconsiderAll);

    localTimes(list);
    list.querySelectorAll('[data-testid="message"]').forEach(function (el) { adopt(el, false); });
    scrollToBottom();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
