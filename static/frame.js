// frame.js: the window's side of embed.js's panel (docs/embedding.md),
// loaded, before chat.js, only by a framed window (/?embed=1). It answers
// its parent only, at an origin the window lets frame it (data-origins:
// its frame-ancestors, of which 'self' and origins count), fixed by the
// first hello.
// A closed panel is out of sight: <html data-panel="closed"> tells chat.js,
// and the event "chatwindow:panel" says when that changes.
(function () {
  "use strict";
  var me = document.currentScript;
  var sources = me.dataset.origins.toLowerCase().split(/\s+/);
  var root = document.documentElement, SEEN = "chatwindow-seen";
  var from = "", open = false, told = {}, calls = {}, ids = 0, timer = 0;
  root.dataset.panel = "closed";


  function post(msg) {
    msg.chatwindow = 1;
    if (from) parent.postMessage(msg, from);
  }

  function tell(type, v) {
    if (told[type] !== v) post({ type: type, count: v, state: (told[type] = v) });
  }

  // update tells the page the unread count (the agent's messages past the
  // last ones an open panel showed, kept per dialog) and the state.
  function update() {
    timer = 0;
    var last = {}, n = 0;
    try {
      last = JSON.parse(localStorage.getItem(SEEN)) || {};
    } catch (e) {}
    document.querySelectorAll('[data-testid="message"][data-from="agent"][data-seq]').forEach(function (el) {
      var d = el.dataset.dialogId, q = +el.dataset.seq;
      if (open) last[d] = Math.max(last[d] || 0, q);
      else if (q > (last[d] || 0)) n++;
    });
    try {
      if (open) localStorage.setItem(SEEN, JSON.stringify(last));
    } catch (e) {}
    tell("unread", n);
    // The launcher's words, in the window's language.
    var h = document.querySelector(".brand h1"), m = document.querySelector("main");
    if (h && m) tell("words", h.textContent + "\n" + m.dataset.sayUnread);
    var p = document.querySelector("#close-control[data-phase]") || document.querySelector("#footer[data-phase]");
    tell("state", p ? p.dataset.phase : "");
  }

  function soon() {
    timer = timer || setTimeout(update, 50);
  }

  addEventListener("message", function (e) {
    var d = e.data;
    if (e.source !== parent || parent === window || !d || d.chatwindow !== 1 ||
      (from ? e.origin !== from : d.type !== "hello" || sources.indexOf(e.origin === location.origin ? "'self'" : e.origin) < 0)) return;
    if (d.type === "hello") {
      from = e.origin;
      told = {};
    } else if (d.type === "panel") {
      open = d.open === true;
      root.dataset.panel = open ? "open" : "closed";
      dispatchEvent(new Event("chatwindow:panel"));
    } else if (d.type === "signin" && calls[d.id]) {
      calls[d.id](d.value, d.reason);
      delete calls[d.id];
    }
    soon();
  });

  // The header's close button (framed windows have one) and Escape close
  // the panel.
  addEventListener("click", function (e) {
    if (e.target.closest(".panel-close")) post({ type: "close" });
  });
  addEventListener("keydown", function (e) {
    if (e.key === "Escape" && open) post({ type: "close" });
  });

  new MutationObserver(soon).observe(root, { childList: true, subtree: true });

  // signin.js takes signIn for the brand page's function.
  window.chatwindowFrame = {
    signIn: function (callback) {
      if (!from) return callback("", "the site's page does not answer");
      calls[++ids] = callback;
      post({ type: "signin", id: ids });
    }
  };
})();
