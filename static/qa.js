// qa.js: the QA view's protocol inspector. The frames arrive as htmx
// fragments over the inspector's socket; this file only filters them by
// type, keeps the list bounded, follows the newest frame while the list is
// scrolled to the bottom, and shows the socket's state (docs/qa.md).
(function () {
  "use strict";

  var MAX = 500; // frames kept in the page, like the server's ring

  var list, filter, types, expand, count, status;
  var known = new Set(); // types offered in the filter's list
  var stick = true; // the list follows new frames

  function matches(li) {
    var f = filter.value.trim().toLowerCase();
    if (f === "") return true;
    return (li.dataset.type || "").toLowerCase().indexOf(f) !== -1;
  }

  function frames() {
    return list.querySelectorAll('li[data-testid="frame"]');
  }

  function apply(li) {
    li.hidden = !matches(li);
    var d = li.querySelector("details");
    if (d) d.open = expand.checked;
    var t = li.dataset.type;
    if (t && !known.has(t)) {
      known.add(t);
      var o = document.createElement("option");
      o.value = t;
      types.appendChild(o);
    }
  }

  function updateCount() {
    var all = frames();
    var shown = 0;
    all.forEach(function (li) {
      if (!li.hidden) shown++;
    });
    count.textContent = shown === all.length ? all.length + " frames" : shown + " of " + all.length + " frames";
  }

  function refilter() {
    frames().forEach(function (li) {
      li.hidden = !matches(li);
    });
    updateCount();
  }

  function trim() {
    var all = frames();
    for (var i = 0; i < all.length - MAX; i++) all[i].remove();
  }

  function onAdded(records) {
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) {
        if (n.nodeType === 1 && n.matches('li[data-testid="frame"]')) apply(n);
      });
    });
    trim();
    updateCount();
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function setStatus(state) {
    status.dataset.state = state;
    status.textContent = state;
  }

  function init() {
    list = document.getElementById("frames");
    filter = document.getElementById("qa-filter");
    types = document.getElementById("qa-types");
    expand = document.getElementById("qa-expand");
    count = document.getElementById("qa-count");
    status = document.getElementById("qa-status");
    if (!list || !filter) return;

    // htmx's innerHTML swap replaces the list's children, not the list,
    // so one observer sees every frame.
    new MutationObserver(onAdded).observe(list, { childList: true });
    list.addEventListener("scroll", function () {
      stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    });
    filter.addEventListener("input", refilter);
    expand.addEventListener("change", function () {
      list.querySelectorAll("details").forEach(function (d) {
        d.open = expand.checked;
      });
    });
    document.body.addEventListener("htmx:wsOpen", function () {
      setStatus("live");
    });
    document.body.addEventListener("htmx:wsClose", function () {
      setStatus("reconnecting");
    });
    updateCount();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
