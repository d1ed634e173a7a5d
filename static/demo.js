// demo.js: the demo site's own script (docs/embedding.md, The demo site).
// With authenticated customers it is the brand's sign-in: the function the
// window names (data-auth-method, LivePerson's LPJsMethodName), which
// embed.js calls for the framed window; it answers with a JWT the demo
// site signs for the demo customer signed in on this page, or, when nobody
// is, asks them to sign in and answers once they have. And two buttons on
// window.chatwindow, with what its events say.
(function () {
  "use strict";

  var me = document.currentScript;
  var method = me.dataset.authMethod;
  var tokenURL = me.dataset.token;
  var USER = "demo-user"; // localStorage: the demo customer's name
  var waiting = [];

  function $(id) {
    return document.getElementById(id);
  }

  function user() {
    try {
      return window.localStorage.getItem(USER) || "";
    } catch (e) {
      return "";
    }
  }

  function token(name) {
    return fetch(tokenURL, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: name })
    }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(t || "the demo site signed nobody in"); });
      return r.json();
    }).then(function (j) {
      return j.token;
    });
  }

  function answer(callback) {
    token(user()).then(function (t) { callback(t); }, function (e) { callback("", e.message); });
  }

  // Nobody signed in: the panel makes way for the form (on a phone it
  // covers the page), and comes back once the visitor has signed in.
  if (method) {
    window[method] = function (callback) {
      if (user()) return answer(callback);
      waiting.push(callback);
      if (window.chatwindow) window.chatwindow.close();
      $("demo-signin-note").textContent = "The chat asks who you are: sign in here first.";
      $("demo-name").focus();
    };
  }

  function show() {
    var name = user();
    $("demo-signin").hidden = !!name;
    $("demo-user").hidden = !name;
    $("demo-user-name").textContent = name;
  }

  function signInForm() {
    if (!$("demo-signin")) return;
    show();
    $("demo-signin").addEventListener("submit", function (e) {
      e.preventDefault();
      var name = $("demo-name").value.trim();
      if (!name) return;
      try {
        window.localStorage.setItem(USER, name);
      } catch (err) {
        // no storage: signed in for this page only
      }
      show();
      $("demo-signin-note").textContent = "";
      if (waiting.length && window.chatwindow) window.chatwindow.open();
      waiting.splice(0).forEach(answer);
    });
    $("demo-signout").addEventListener("click", function () {
      try {
        window.localStorage.removeItem(USER);
      } catch (e) {
        // nothing kept
      }
      show();
    });
  }

  // The API's buttons and events; embed.js loads on its own (async).
  function api() {
    var cw = window.chatwindow, unread = 0, state = "";
    function status() {
      $("demo-status").textContent = "Unread: " + unread + (state ? " · conversation: " + state : "");
    }
    $("demo-open").addEventListener("click", function () { cw.open(); });
    $("demo-close").addEventListener("click", function () { cw.close(); });
    cw.on("unread", function (n) { unread = n; status(); });
    cw.on("state", function (s) { state = s; status(); });
  }

  function init() {
    signInForm();
    if (window.chatwindow) api();
    else window.addEventListener("chatwindow:ready", api);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
