// signin.js: an authenticated customer is signed in by the brand
// (docs/protocol.md, Identity). The embedding page defines a function
// named by the window's data-auth-method (LivePerson's "JS Method Name",
// LPJsMethodName by convention). It is called with a callback, which it
// calls with the brand's JWT or OAuth code as a string, or with the code
// flow's {ssoKey, redirect_uri}; on failure with ("", reason). The answer
// is posted to the window's own origin (data-start), which exchanges it for
// LivePerson's token and keeps only that, in its cookie: nothing of it
// stays in the page. chat.js calls start when the customer starts, and
// renew after every frame of its socket: it signs in again when the window
// asks (LivePerson refused the token).
(function () {
  "use strict";

  // ms the brand's sign-in may take (it may show the customer a form).
  var WAIT = 120000;

  // The function lives on the window's own page or, when the window is
  // framed by a page of its own origin, on that page. Another origin's
  // page cannot be reached from here (reading it throws): framed by
  // embed.js, frame.js asks that page over postMessage.
  function lookup(name) {
    if (typeof window[name] === "function") return window[name];
    try {
      if (window.parent !== window && typeof window.parent[name] === "function") return window.parent[name];
    } catch (e) {
      // another origin's page
    }
    return window.chatwindowFrame ? window.chatwindowFrame.signIn : null;
  }

  // What the page answered, as the window's sign-in request.
  function requestOf(answer) {
    if (typeof answer === "string" && answer !== "") return { code: answer };
    if (answer && typeof answer === "object" && typeof answer.ssoKey === "string" && answer.ssoKey !== "") {
      var req = { code: answer.ssoKey };
      if (typeof answer.redirect_uri === "string") req.redirect_uri = answer.redirect_uri;
      return req;
    }
    return null;
  }

  // signIn calls the page's function for main's window and posts the
  // answer; done(null, status) once the customer is signed in (204, or
  // 202: the session that waits for it runs on another node, so the
  // page's socket must reconnect), or done(error) with the text to show.
  function signIn(main, done) {
    var name = main.dataset.authMethod;
    var fn = lookup(name);
    var settled = false;
    function end(err, status) {
      if (settled) return;
      settled = true;
      done(err, status);
    }
    if (!fn) {
      end(new Error("This window cannot sign you in: the page does not offer its sign-in (" + name + ")."));
      return;
    }
    var answered = false;
    var timer = setTimeout(function () { answer(null, "the site's sign-in did not answer"); }, WAIT);
    function answer(value, reason) {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      var req = requestOf(value);
      if (!req) {
        end(new Error(reason ? "We could not sign you in: " + reason + "." : (main.dataset.saySignInFailed || "We could not sign you in. Please sign in on the site and try again.")));
        return;
      }
      fetch(main.dataset.start, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(req)
      }).then(function (r) {
        if (r.status === 204 || r.status === 202) {
          end(null, r.status);
          return null;
        }
        return r.text().then(function (t) { end(new Error(t || "We could not sign you in.")); });
      }).catch(function () {
        end(new Error(main.dataset.sayUnreachable || "The chat service is not reachable right now. Please try again in a moment."));
      });
    }
    try {
      fn(answer);
    } catch (e) {
      answer(null, "the site's sign-in failed");
    }
  }

  // --- signed in again ---------------------------------------------------------
  // When LivePerson refuses the customer's token (it expired: 4401), only
  // the brand can sign them in: the server's banner says "signin" and the
  // sign-in runs again. The session waits meanwhile; what the customer
  // writes waits with it. A failure says why, with a button to try again.
  var renewing = false;
  var failed = false;

  function renew(main, reconnect) {
    var el = document.getElementById("connection");
    if (!main.dataset.authMethod || !el || el.dataset.state !== "signin") {
      failed = false;
      return;
    }
    if (renewing || failed) return;
    renewing = true;
    signIn(main, function (err, status) {
      renewing = false;
      if (!err) {
        if (status === 202) reconnect();
        return;
      }
      failed = true;
      var banner = document.getElementById("connection");
      banner.textContent = err.message;
      var retry = document.createElement("button");
      retry.type = "button";
      retry.className = "connection-retry";
      retry.dataset.testid = "signin-retry";
      retry.textContent = main.dataset.sayTryAgain || "Try again";
      retry.addEventListener("click", function () {
        failed = false;
        renew(main, reconnect);
      });
      banner.appendChild(retry);
    });
  }

  window.chatwindowSignIn = { start: signIn, renew: renew };
})();
