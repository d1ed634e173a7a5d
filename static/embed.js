// embed.js: the launcher and panel of the chat window on a brand's page
// (docs/embedding.md explains each part). It counts in the JavaScript
// budget: the window serves it without its comments and indentation
// (static.Strip), and its looks are in embed.css. It hears only its frame,
// at the window's origin (its own script's), and posts only there.
(function () {
  "use strict";
  var me = document.currentScript;
  if (window.chatwindow || !me) return;
  var C = /*CONFIG*/{};
  var O = new URL(me.src).origin, KEY = "chatwindow-open";
  var fns = {}, now = {}, opened = false, loaded = false, launcher, badge, frame;

  function make(tag, attrs, parent) {
    var el = document.createElement(tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    return parent.appendChild(el);
  }

  // post talks to the window once its page is in the frame (before, the
  // frame holds the brand's blank page).
  function post(msg) {
    msg.chatwindow = 1;
    if (loaded) frame.contentWindow.postMessage(msg, O);
  }

  function emit(name, v) {
    now[name] = v;
    // Each listener on its own: one that throws stops none of the others.
    (fns[name] || []).forEach(function (fn) { setTimeout(fn, 0, v); });
  }

  // set opens or closes the panel (embed.css shows it after an expanded
  // launcher), and remembers it; a person's doing (user) moves the focus
  // into the window, where "seen" needs it, or back to the launcher.
  function set(open, user) {
    opened = open;
    try {
      localStorage.setItem(KEY, open ? 1 : 0);
    } catch (e) {}
    launcher.setAttribute("aria-expanded", open);
    post({ type: "panel", open: open });
    if (user) (open ? frame : launcher).focus();
    emit("panel", open);
  }

  // signIn calls the brand's sign-in function for the frame (signin.js),
  // and passes on a JWT or code, or the code flow's {ssoKey, redirect_uri}.
  function signIn(id) {
    function answer(v, reason) {
      v = typeof v === "string" ? v : v && v.ssoKey ? { ssoKey: "" + v.ssoKey, redirect_uri: "" + (v.redirect_uri || "") } : "";
      post({ type: "signin", id: id, value: v, reason: "" + (reason || "") });
    }
    try {
      window[C.auth](answer);
    } catch (e) {
      answer("", "the site's sign-in (" + C.auth + ") is missing or failed");
    }
  }

  function init() {
    var body = document.body;
    make("link", { rel: "stylesheet", href: O + C.css }, document.head);
    launcher = make("button", { id: "chatwindow-launcher", type: "button", hidden: "", "aria-label": C.title, "aria-controls": "chatwindow-panel", "data-testid": "launcher" }, body);
    launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3 4h18v13H9l-6 4z"/></svg>';
    badge = make("span", { id: "chatwindow-unread", "aria-hidden": "true", "data-testid": "launcher-unread" }, launcher);
    // The window speaks the page's language when it can (lang, docs/embedding.md).
    var lang = document.documentElement.lang;
    var panel = make("div", { id: "chatwindow-panel", hidden: "", role: "dialog", "aria-label": C.title }, body);
    frame = make("iframe", { src: O + "/?embed=1" + (lang ? "&lang=" + encodeURIComponent(lang) : ""), title: C.title, "data-testid": "chat-frame" }, panel);
    // The launcher's name, in the window's language once it says it
    // ("words": its title and "%s unread").
    var T = C.title, U = "%s unread", N = 0;
    function name() {
      launcher.setAttribute("aria-label", T + (N ? ", " + U.replace("%s", N) : ""));
    }

    addEventListener("message", function (e) {
      var d = e.data;
      if (e.source !== frame.contentWindow || e.origin !== O || !d || d.chatwindow !== 1) return;
      if (d.type === "unread") {
        badge.textContent = d.count || "";
        N = +d.count || 0;
        name();
        emit("unread", +d.count);
      }
      if (d.type === "words") {
        var w = ("" + d.state).split("\n");
        T = w[0] || T;
        U = w[1] || U;
        frame.title = T;
        panel.setAttribute("aria-label", T);
        name();
      }
      if (d.type === "state") emit("state", "" + d.state);
      if (d.type === "close") set(false, true);
      if (d.type === "signin") signIn(d.id);
    });
    // Each page the frame loads is greeted and told whether it is in sight.
    frame.onload = function () {
      loaded = true;
      post({ type: "hello" });
      post({ type: "panel", open: opened });
    };
    launcher.onclick = function () { set(!opened, true); };

    window.chatwindow = {
      open: function () { set(true, true); },
      close: function () { set(false, true); },
      toggle: function () { set(!opened, true); },
      // on(event, fn): fn gets the current value, if any, then each change.
      on: function (name, fn) {
        (fns[name] = fns[name] || []).push(fn);
        if (name in now) fn(now[name]);
      }
    };
    try {
      opened = localStorage.getItem(KEY) === "1";
    } catch (e) {}
    set(opened);
    dispatchEvent(new Event("chatwindow:ready"));
  }

  if (document.body) init();
  else addEventListener("DOMContentLoaded", init);
})();
