// chat.js: what only the page can know, reported to the server over the
// window's socket. "delivered" when an agent's message is in the page (in
// the agent console: a consumer's, see data-report-from);
// "seen" when at least half of its bubble (or half the viewport, for a bubble
// taller than that) has been in view of a visible, focused tab for DWELL ms.
// Visibility is read through document.visibilityState and its
// visibilitychange event, focus through document.hasFocus() and focus/blur:
// exactly those, so tests can play a background tab (README, "When
// chatwindow sends ACCEPT and READ").
//
// One reporting tab per browser (docs/deployment.md, "Many nodes"): the
// tabs of one customer may be served by different server nodes, each with
// its own upstream socket, and the service takes every receipt it is sent
// as a new event (docs/protocol.md, Receipts); a node learns what another one
// sent only from the echo. So in the customer's window only the tab that
// holds the Web Locks lock LOCK reports, and only while its socket is open
// and the banner says the upstream is open. The focused tab takes the lock
// from the holder (steal) when it asks anew, gains focus or becomes
// visible: "seen" needs focus, so the tab that sees is the tab that
// reports, and a message's ACCEPT and READ go through one node. A tab that
// got the lock waits until HANDOFF has passed since the last report any tab
// of the browser sent (the time is kept in localStorage; without it, HANDOFF
// from the grant) before it reports what its page holds: by then the echo
// of the previous holder's reports has reached every node, which drop what
// was already sent. Where navigator.locks is missing (an insecure origin:
// plain http other than localhost) every tab reports, as a single-node
// deployment can afford: two tabs on two nodes may then both publish a
// message's ACCEPT.
(function () {
  "use strict";

  var DWELL = 600; // ms a bubble must stay in view before it counts as seen
  // Reports are batched: a burst of messages (or of dwell timers ending)
  // goes out as a few frames, far below the server's flood limit.
  var REPORT_EVERY = 100; // ms
  var REPORT_ITEMS = 200;
  var TYPING_EVERY = 3000; // at most one COMPOSING per this many ms
  var PAUSE_AFTER = 4000; // ms without input before PAUSE
  var LOCK = "chatwindow-delivery"; // the Web Locks lock of the reporting tab
  // ms a new holder waits after the browser's last report: the previous
  // holder's batch (REPORT_EVERY), its node's publish and the echo
  // reaching the other nodes, with room to spare.
  var HANDOFF = 1000;
  var LAST_REPORT = "chatwindow-delivery-last"; // localStorage: ms of the last report

  var socket = null; // htmx ws extension's wrapper; queues while closed
  var socketOpen = false; // between htmx:wsOpen and the next close or reconnect
  var windowCame = false; // the open socket sent its first frame (the window)
  var chat = null;

  // say is a text of the page's language (the window renders them as
  // data-say-* on its main); d, the English, where there is none.
  function say(k, d) {
    return (chat && chat.dataset["say" + k]) || d;
  }
  var list = null;
  var marker = null;
  // By bubble id: a re-render makes new elements of the same messages.
  var reported = { delivered: new Set(), seen: new Set() };
  var seenHere = new Set(); // seen in this tab (dwell done), reported or not
  var known = new Set(); // every bubble this page has held
  var unread = new Set(); // the agent's, arrived here, not seen yet
  var unreadShown = 0;
  // pinned: the customer is at the bottom; autoTop: where the page last
  // scrolled to; anchor: the first bubble in view, scrolled up.
  var pinned = true;
  var autoTop = 0;
  var anchor = null;
  var sizes = null;
  var audio = null;
  var pending = { delivered: [], seen: [] };
  var flushTimer = 0;
  // navigator.locks in the customer's window (null: every tab reports; the
  // agent console, one node, does not need it).
  var locks = null;
  // The lock: none, waiting (in line) or held; ready once the hand-off
  // wait is over. gen changes whenever the tab gives up what it asked for,
  // so that late callbacks of an older request do nothing.
  var lock = { gen: 0, state: "none", ready: false, abort: null, release: null, timer: 0 };
  var inView = new Map(); // bubble -> true while enough of it is in view
  var dwell = new Map(); // bubble -> timer
  var baseTitle = document.title;

  function send(obj) {
    if (socket) socket.send(JSON.stringify(obj));
  }

  // mayReport: this tab is the browser's reporting tab (or every tab is).
  function mayReport() {
    return !locks || lock.ready;
  }

  function report(kind, el) {
    if (reported[kind].has(el.id) || !mayReport()) return;
    reported[kind].add(el.id);
    pending[kind].push({ dialogId: el.dataset.dialogId, seq: Number(el.dataset.seq) });
    if (!flushTimer) flushTimer = setTimeout(flushReports, REPORT_EVERY);
  }

  function flushReports() {
    clearTimeout(flushTimer);
    flushTimer = 0;
    var sent = false;
    ["delivered", "seen"].forEach(function (kind) {
      // A long history arrives at once: its reports go in frames of at
      // most REPORT_ITEMS, well under the server's frame limit (32 KiB).
      for (var i = 0; i < pending[kind].length; i += REPORT_ITEMS) {
        if (sendReport({ type: "report", status: kind, items: pending[kind].slice(i, i + REPORT_ITEMS) })) sent = true;
      }
      pending[kind] = [];
    });
    if (sent && locks) stampReport();
  }

  // sendReport sends a report frame. With the lock it goes now or never:
  // a report queued by the ws extension would go out after a reconnect,
  // perhaps to another node, long after another tab took over (the window
  // the new socket sends is reported afresh anyway).
  function sendReport(obj) {
    if (!locks) {
      send(obj);
      return true;
    }
    if (!socket || !socketOpen) return false;
    try {
      socket.sendImmediately(JSON.stringify(obj));
      return true;
    } catch (e) {
      return false; // the socket is not open after all
    }
  }

  // --- the delivery lock: one reporting tab per browser ------------------------
  function lastReport() {
    try {
      return Number(window.localStorage.getItem(LAST_REPORT)) || 0;
    } catch (e) {
      return null; // no storage: wait the whole HANDOFF
    }
  }

  function stampReport() {
    try {
      window.localStorage.setItem(LAST_REPORT, String(Date.now()));
    } catch (e) {
      // no storage: other tabs wait the whole HANDOFF
    }
  }

  function handoffLeft() {
    var last = lastReport();
    if (last === null) return HANDOFF;
    return Math.max(0, Math.min(HANDOFF, last + HANDOFF - Date.now()));
  }

  // eligible: this tab may hold the lock: its socket is open, the window
  // came over it, and the banner says the session's upstream is open.
  function eligible() {
    var c = document.getElementById("connection");
    return socketOpen && windowCame && !!c && c.dataset.state === "open";
  }

  // considerLock takes the lock when the tab may report and lets it go when
  // it may not. An attentive tab that asks anew takes it from the holder;
  // one already waiting in line does so only when it gains focus or
  // becomes visible (focusGained), so that two tabs that both believe they
  // have focus (a test's emulation) do not take it from each other on
  // every frame.
  function considerLock(focusGained) {
    if (!locks) return;
    if (!eligible()) {
      dropLock();
      return;
    }
    if (lock.state === "held") return;
    if (lock.state === "waiting") {
      if (!(focusGained && attentive())) return;
      dropLock();
    }
    requestLock(attentive());
  }

  function requestLock(steal) {
    var gen = ++lock.gen;
    var opts = {};
    if (steal) {
      opts.steal = true; // (a steal takes no signal: it is granted at once)
    } else {
      lock.abort = new AbortController();
      opts.signal = lock.abort.signal;
    }
    lock.state = "waiting";
    locks.request(LOCK, opts, function () {
      if (gen !== lock.gen) return undefined; // given up meanwhile: let it go
      lock.state = "held";
      lock.abort = null;
      awaitHandoff(gen, handoffLeft());
      return new Promise(function (resolve) { lock.release = resolve; });
    }).catch(function () {
      // Aborted (given up: gen moved on), or stolen by a focused tab: then
      // what was decided goes out and the tab waits in line again.
      if (gen !== lock.gen) return;
      dropLock();
      if (eligible()) requestLock(false);
    });
  }

  function awaitHandoff(gen, wait) {
    lock.timer = setTimeout(function () {
      lock.timer = 0;
      if (gen !== lock.gen) return;
      // The previous holder may have sent a last batch after the grant.
      var left = handoffLeft();
      if (left > 0) {
        awaitHandoff(gen, left);
        return;
      }
      lock.ready = true;
      reportAll();
    }, wait);
  }

  // dropLock gives up the lock or the place in line. What the tab decided
  // while it held the lock goes out first (if its socket is still open).
  function dropLock() {
    if (lock.state === "none") return;
    if (lock.ready) flushReports();
    lock.gen++;
    if (lock.abort) lock.abort.abort();
    if (lock.release) lock.release();
    clearTimeout(lock.timer);
    lock.state = "none";
    lock.ready = false;
    lock.abort = null;
    lock.release = null;
    lock.timer = 0;
  }

  // reportAll reports what the page holds and this tab has not reported:
  // for a new holder, everything (the server drops what was published).
  function reportAll() {
    if (!list) return;
    list.querySelectorAll('[data-testid="message"]').forEach(function (el) {
      if (!isAgentMessage(el)) return;
      report("delivered", el);
      if (seenHere.has(el.id)) report("seen", el);
    });
  }

  // Framed on a brand's page, the window is out of sight while its panel
  // is closed: frame.js marks <html data-panel="closed"> (docs/embedding.md).
  function attentive() {
    return document.visibilityState === "visible" && document.hasFocus() && document.documentElement.dataset.panel !== "closed";
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
    if (ok && !dwell.has(el) && !seenHere.has(el.id)) {
      dwell.set(el, setTimeout(function () {
        dwell.delete(el);
        if (inView.has(el) && attentive() && el.isConnected) {
          seenHere.add(el.id);
          if (unread.delete(el.id)) updateTitle();
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
    autoTop = list.scrollTop;
    pinned = true;
    marker.hidden = true;
  }

  // The customer's scroll (not to autoTop) pins or unpins the list.
  function scrolled() {
    if (atBottom()) pinned = marker.hidden = true;
    else if (list.scrollTop < autoTop - 1) pinned = false;
    if (pinned) return;
    var top = list.getBoundingClientRect().top;
    for (var el = list.firstElementChild; el; el = el.nextElementSibling) {
      var r = el.getBoundingClientRect();
      if (r.bottom > top) return void (anchor = [el.id, r.top - top]);
    }
  }

  function clearUnread(el) {
    delete el.dataset.unread;
    if (!list.querySelector('[data-unread="1"]')) marker.hidden = true;
  }

  function adopt(el) {
    report("delivered", el);
    if (seenHere.has(el.id)) report("seen", el);
    else observer.observe(el);
  }

  // Times come from the server in UTC (it does not know the customer's
  // zone); the page shows them in the customer's own.
  function localTimes(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      // data-day: a time on another day (when agents answer) keeps its day.
      el.textContent = el.hasAttribute("data-day")
        ? d.toLocaleString([], { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" })
        : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    });
  }

  // Bubbles put in the list (new, updated or all anew): pinned, the list
  // follows; else it stays put and new agent messages show the marker.
  function onInserted(nodes, rerendered) {
    var fresh = [];
    nodes.forEach(function (node) {
      if (node.nodeType !== 1) return;
      localTimes(node);
      (node.matches('[data-testid="message"]') ? [node] : node.querySelectorAll('[data-testid="message"]')).forEach(function (el) {
        sizes.observe(el);
        var isNew = !known.has(el.id);
        known.add(el.id);
        if (!isAgentMessage(el)) return;
        adopt(el);
        if (isNew) fresh.push(el);
      });
    });
    if (pinned) scrollToBottom();
    else if (rerendered && anchor) {
      var a = document.getElementById(anchor[0]);
      if (a) list.scrollTop += a.getBoundingClientRect().top - list.getBoundingClientRect().top - anchor[1];
    }
    if (!fresh.length) return;
    fresh.forEach(function (el) {
      unread.add(el.id);
      if (!pinned) el.dataset.unread = "1";
    });
    if (!pinned) marker.hidden = false;
    updateTitle();
    if (document.visibilityState !== "visible") alertOf(fresh[fresh.length - 1]);
  }

  // The title counts unread agent messages while hidden; an embedding page
  // hears the count (chatwindow:unread, detail.count).
  function updateTitle() {
    var n = unread.size;
    document.title = n && document.visibilityState !== "visible" ? "(" + n + ") new · " + baseTitle : baseTitle;
    if (n !== unreadShown) document.dispatchEvent(new CustomEvent("chatwindow:unread", { detail: { count: (unreadShown = n) } }));
  }

  // --- a beep and the browser's notification, if chosen ([data-pref]) -------
  function pref(k, v) {
    try {
      if (v === undefined) return localStorage.getItem("chatwindow-" + k) === "1";
      localStorage.setItem("chatwindow-" + k, v ? "1" : "0");
    } catch (e) {
      return false;
    }
  }

  function setPref(b, on) {
    b.setAttribute("aria-pressed", String(on));
    pref(b.dataset.pref, on);
  }

  // Generated: no audio file.
  function beep() {
    try {
      audio = audio || new AudioContext();
      var o = audio.createOscillator(), g = audio.createGain();
      g.gain.value = 0.1;
      o.connect(g).connect(audio.destination);
      o.start();
      o.stop(audio.currentTime + 0.15);
    } catch (e) {
      // no sound
    }
  }

  function alertOf(el) {
    if (pref("sound")) beep();
    if (!pref("notify") || !window.Notification || Notification.permission !== "granted") return;
    var t = el.querySelector(".message-text");
    var n = new Notification(baseTitle, { body: t ? t.textContent.slice(0, 140) : "New message", tag: "chatwindow" });
    n.onclick = function () { window.focus(); n.close(); };
  }

  // Permission is asked for on the customer's click, never on load.
  function prefs() {
    document.querySelectorAll("[data-pref]").forEach(function (b) {
      var k = b.dataset.pref, N = window.Notification;
      if (k === "notify" && !N) return void (b.hidden = true);
      setPref(b, pref(k) && (k !== "notify" || N.permission === "granted"));
      b.addEventListener("click", function () {
        var on = b.getAttribute("aria-pressed") !== "true";
        if (on && k === "notify" && N.permission !== "granted") {
          N.requestPermission().then(function (p) { setPref(b, p === "granted"); });
          return;
        }
        setPref(b, on);
        if (on && k === "sound") beep();
      });
    });
  }

  // A card link's click opens it and has the server publish its ACTION.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-link]");
    var m = a && a.closest('[data-testid="message"]');
    if (m) send({ type: "link", dialogId: m.dataset.dialogId, seq: m.dataset.seq, index: a.dataset.link });
  });

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

  // --- a visitor's first message: an identity first, then the socket ----------
  // A page without an identity has no socket (data-start instead of
  // ws-connect): the server creates nothing for a visitor who only looks.
  // The first message asks for one (POST data-start), then the page
  // connects and the message goes over the socket like any other.
  var starting = false;

  function anonymous() {
    return !!chat && !chat.hasAttribute("ws-connect") && !!chat.dataset.start;
  }

  function start(form) {
    if (starting) return;
    starting = true;
    function connect() {
      chat.setAttribute("ws-connect", chat.dataset.socket);
      chat.querySelectorAll("form[data-send-later]").forEach(function (f) {
        f.removeAttribute("data-send-later");
        f.setAttribute("ws-send", "");
      });
      htmx.process(chat);
      // Now through ws-send: the extension holds it until the socket opens.
      form.requestSubmit();
    }
    if (chat.dataset.authMethod) {
      // An authenticated customer: the brand signs them in (signin.js).
      signIn(function (err) {
        starting = false;
        if (err) banner("offline", err.message);
        else connect();
      });
      return;
    }
    fetch(chat.dataset.start, { method: "POST", credentials: "same-origin" }).then(function (r) {
      if (r.status !== 204) throw new Error("start: " + r.status);
      connect();
    }).catch(function () {
      banner("offline", say("Unreachable", "The chat service is not reachable right now. Please try again in a moment."));
    }).finally(function () {
      starting = false;
    });
  }

  function signIn(done) {
    if (window.chatwindowSignIn) window.chatwindowSignIn.start(chat, done);
    else done(new Error(say("NoSignIn", "This window cannot sign you in.")));
  }

  // Before htmx sees the submit (capture, on the document).
  document.addEventListener("submit", function (e) {
    if (!anonymous() || !e.target.matches("form[data-send-later]")) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    start(e.target);
  }, true);

  function init() {
    // The window's or the console's main; the window's has data-start
    // instead of ws-connect until the visitor writes.
    chat = document.querySelector("[ws-connect], [data-start]");
    list = document.getElementById("messages");
    marker = document.getElementById("new-marker");
    if (!chat || !list) return;
    // The customer's window reports the agent's messages; the lock keeps
    // its tabs on several nodes from reporting twice.
    if (((list.dataset.reportFrom || "agent") === "agent") && navigator.locks) locks = navigator.locks;

    marker.addEventListener("click", function () { scrollToBottom(); });
    list.addEventListener("scroll", scrolled, { passive: true });
    // Pinned, the list follows bubbles that grow (an image loading).
    sizes = new ResizeObserver(function () { if (pinned) scrollToBottom(); });
    sizes.observe(list);

    // The list's state before a frame's swap.
    chat.addEventListener("htmx:wsBeforeMessage", scrolled);
    new MutationObserver(function (records) {
      var nodes = [], removed = false;
      records.forEach(function (r) {
        r.addedNodes.forEach(function (n) { nodes.push(n); });
        r.removedNodes.forEach(function (n) {
          removed = true;
          if (n.nodeType === 1) sizes.unobserve(n);
        });
      });
      if (nodes.length) onInserted(nodes, removed);
    }).observe(list, { childList: true });

    chat.addEventListener("htmx:wsOpen", function (e) {
      socket = e.detail.socketWrapper;
      socketOpen = true;
      windowCame = false; // the banner is the old socket's until the window comes
      // A new socket (maybe another node) hears every report anew.
      reported = { delivered: new Set(), seen: new Set() };
    });
    // After every frame: the banner may have changed.
    chat.addEventListener("htmx:wsAfterMessage", function () {
      windowCame = true;
      considerLock(false);
      // The server may ask the brand to sign the customer in again
      // (signin.js); signed in on another node, the socket reconnects with
      // the new cookie, and the node that serves it passes the token on.
      if (window.chatwindowSignIn) window.chatwindowSignIn.renew(chat, function () { if (socket) socket.reconnect(); });
    });
    chat.addEventListener("htmx:wsConnecting", function () {
      socketOpen = false;
      considerLock(false);
      if (socket) banner("reconnecting", say("Reconnecting", "Connection lost. Reconnecting…"));
    });
    chat.addEventListener("htmx:wsClose", function (e) {
      socketOpen = false;
      considerLock(false);
      var code = e.detail.event && e.detail.event.code;
      if ([1006, 1011, 1012, 1013].indexOf(code) >= 0) banner("reconnecting", say("Reconnecting", "Connection lost. Reconnecting…"));
      else banner("offline", say("Disconnected", "Disconnected. Reload the page to chat again."));
    });
    chat.addEventListener("htmx:wsAfterSend", function (e) {
      var form = e.target;
      if (form && form.id === "composer-form") {
        form.reset();
        sent();
      }
      // Their own message (or a choice's answer) comes into view.
      if (form && (form.id === "composer-form" || form.matches(".choice"))) scrollToBottom();
    });
    window.addEventListener("offline", function () { banner("offline", "You are offline. We'll reconnect when we can."); });

    document.addEventListener("visibilitychange", function () {
      updateTitle();
      reconsiderAll();
      considerLock(document.visibilityState === "visible");
    });
    window.addEventListener("focus", function () {
      reconsiderAll();
      considerLock(true);
    });
    window.addEventListener("blur", reconsiderAll);
    // frame.js: the brand's panel opened or closed.
    window.addEventListener("chatwindow:panel", function () {
      reconsiderAll();
      considerLock(true);
    });

    localTimes(list);
    list.querySelectorAll('[data-testid="message"]').forEach(function (el) {
      known.add(el.id);
      sizes.observe(el);
      if (isAgentMessage(el)) adopt(el);
    });
    scrollToBottom();
    prefs();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
