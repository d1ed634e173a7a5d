// upload.js: #attach's files (picked, dropped, pasted) checked and posted,
// with progress and Retry (docs/protocol.md, Files).
(function () {
  "use strict";
  var d = document, tray;

  function att() { return d.getElementById("attach"); }

  function el(tag, cls, text, parent) {
    var e = d.createElement(tag);
    e.className = cls;
    e.textContent = text;
    return parent ? parent.appendChild(e) : e;
  }

  // A ≤ 160 px JPEG preview, under LivePerson's 30 KB.
  function thumb(f) {
    return /^image\//.test(f.type) ? createImageBitmap(f).then(function (b) {
      var s = Math.min(1, 160 / Math.max(b.width, b.height)), c = el("canvas"), x = c.getContext("2d");
      c.width = Math.ceil(b.width * s);
      c.height = Math.ceil(b.height * s);
      x.fillStyle = "#fff";
      x.fillRect(0, 0, c.width, c.height);
      x.drawImage(b, 0, 0, c.width, c.height);
      var u = c.toDataURL("image/jpeg", 0.8);
      return u.length < 3e4 ? u : "";
    }, String) : Promise.resolve("");
  }

  function send(f) {
    var a = att(), ds = a.dataset, fd = new FormData(), li,
      ok = a.accept.split(","), ext = (/\.[^.]*$/.exec(f.name) || [""])[0].toLowerCase();
    if (!tray || !tray.isConnected) {
      tray = el("ul", "uploads", "");
      tray.setAttribute("aria-live", "polite");
      a.closest("footer").before(tray);
    }
    li = el("li", "upload", "", tray);
    el("span", "", f.name, li);
    li.say = el("span", "", "", li);
    if (ok.indexOf(ext) < 0 && ok.indexOf(f.type) < 0) return fail(li, ds.badType);
    if (f.size > ds.max || !f.size) return fail(li, ds.badSize);
    (ds.fields || "").split(" ").forEach(function (n) { if (n) fd.append(n, a.form.elements[n].value); });
    thumb(f).then(function (u) {
      if (u) {
        el("img", "", "", li).src = u;
        fd.append("preview", u);
      }
      fd.append("file", f, f.name);
      post(ds, fd, li, f.name);
    });
  }

  function post(ds, fd, li, name) {
    var x = new XMLHttpRequest(), p = el("progress", "", "", li);
    p.setAttribute("aria-label", "Sending " + name);
    li.dataset.state = "sending";
    li.say.textContent = "";
    x.upload.onprogress = function (e) { p.value = e.loaded / e.total; };
    x.onloadend = function () {
      p.remove();
      if (x.status == 201) li.remove();
      else fail(li, x.status && x.status < 500 ? x.responseText : ds.failed, function () { post(ds, fd, li, name); });
    };
    x.open("POST", ds.upload);
    x.send(fd);
  }

  function fail(li, why, retry) {
    li.dataset.state = "failed";
    li.say.textContent = why;
    var box = el("span", "", "", li);
    [[retry, "Retry"], [function () { li.remove(); }, "Dismiss"]].forEach(function (b) {
      if (b[0]) el("button", "", b[1], box).onclick = function () {
        box.remove();
        b[0]();
      };
    });
  }

  function each(fs) {
    if (att()) [].forEach.call(fs, send);
  }

  function files(e) {
    return e.dataTransfer.types.includes("Files") && att();
  }

  d.addEventListener("change", function (e) {
    if (e.target.id == "attach") {
      each(e.target.files);
      e.target.value = "";
    }
  });
  ["dragover", "drop"].forEach(function (t) {
    d.addEventListener(t, function (e) {
      if (!files(e)) return;
      e.preventDefault();
      if (t == "drop") each(e.dataTransfer.files);
    });
  });
  d.addEventListener("paste", function (e) {
    var fs = e.clipboardData.files;
    if (fs.length && att()) {
      e.preventDefault();
      each(fs);
    }
  });
})();
