/* Dispatch admin: small progressive enhancements; every page works without them.
   - [data-progress-url]: poll the campaign's progress JSON every second, update the bar,
     until the campaign settled (finished, or paused/cancelled and its runner stopped).
   - form[data-confirm]: ask before submitting.
   - form[data-preview-url]: refresh the article preview while typing (server-rendered).
   - #image-upload: images dropped on the body or chosen in the file field are uploaded
     (with their alt text, which is required) and inserted as Markdown at the cursor,
     or set as the feature image. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var token = csrf ? csrf.getAttribute("content") : "";

  function number(value) { return Number(value).toLocaleString("en"); }

  function watch(box) {
    var url = box.getAttribute("data-progress-url");
    var timer = null;
    var shown = box.querySelector('[data-field="status"]');
    var initial = shown ? shown.textContent.trim() : "";
    function apply(p) {
      var bar = box.querySelector('[role="progressbar"]');
      bar.setAttribute("aria-valuenow", String(p.percent));
      box.querySelector(".fill").style.width = p.percent + "%";
      ["percent", "sent", "failed", "skipped", "cancelled", "in_doubt", "total"].forEach(function (name) {
        var el = box.querySelector('[data-field="' + name + '"]');
        if (el) { el.textContent = name === "percent" ? String(p.percent) : number(p[name]); }
      });
      ["status", "message"].forEach(function (name) {
        var el = box.querySelector('[data-field="' + name + '"]');
        if (el) { el.textContent = p[name]; }
      });
      if (p.settled) {
        window.clearInterval(timer);  /* nothing moves any more: show its final controls once */
        if (p.status !== initial) { window.setTimeout(function () { window.location.reload(); }, 800); }
      }
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) { if (p) { apply(p); } })
        .catch(function () { /* the next poll tries again */ });
    }
    timer = window.setInterval(poll, 1000);
    poll();
  }

  function confirmations(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }

  function livePreview(form) {
    var pane = document.getElementById("preview");
    var url = form.getAttribute("data-preview-url");
    var pending = null;
    function refresh() {
      var data = new FormData(form);
      fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRF-Token": token } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { pane.innerHTML = html; } })
        .catch(function () {});
    }
    form.addEventListener("input", function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(refresh, 600);
    });
  }

  function imageUploads(box) {
    var body = document.querySelector("textarea[data-drop-images]");
    var fileInput = document.getElementById("image-file");
    var altInput = document.getElementById("image-alt-text");
    var status = document.getElementById("image-status");
    var dropped = null;
    function say(text, bad) {
      status.textContent = text;
      status.className = "small" + (bad ? " alert" : "");
    }
    function chosen() {
      return dropped || (fileInput.files && fileInput.files[0]) || null;
    }
    function insertAtCursor(text) {
      var start = body.selectionStart, end = body.selectionEnd;
      var before = body.value.slice(0, start), after = body.value.slice(end);
      var lead = before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "";
      body.value = before + lead + text + "\n\n" + after.replace(/^\n+/, "");
      var caret = (before + lead + text).length;
      body.setSelectionRange(caret, caret);
      body.dispatchEvent(new Event("input", { bubbles: true }));
    }
    function upload(then) {
      var file = chosen();
      if (!file) { say("Choose or drop an image first.", true); return; }
      if (!altInput.value.trim()) {
        say("Write its alt text first: what the image shows, for people who cannot see it.", true);
        altInput.focus();
        return;
      }
      var data = new FormData();
      data.append("file", file, file.name || "image");
      data.append("alt", altInput.value);
      say("Uploading " + (file.name || "the image") + "…", false);
      fetch(box.getAttribute("data-upload-url"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRF-Token": token, Accept: "application/json" }
      }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, json: j }; }); })
        .then(function (answer) {
          if (!answer.ok) { say(answer.json.error || "The upload failed.", true); return; }
          then(answer.json);
          dropped = null;
          fileInput.value = "";
          altInput.value = "";
        })
        .catch(function () { say("The upload failed: is the server reachable?", true); });
    }
    document.getElementById("insert-image").addEventListener("click", function () {
      upload(function (image) {
        insertAtCursor(image.markdown);
        say("Inserted: " + image.width + "×" + image.height + " px.", false);
      });
    });
    document.getElementById("use-as-feature").addEventListener("click", function () {
      upload(function (image) {
        document.getElementById("image").value = image.url;
        document.getElementById("image_alt").value = image.alt;
        say("Set as the feature image.", false);
      });
    });
    body.addEventListener("dragover", function (event) {
      if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
        event.preventDefault();
        body.classList.add("dropping");
      }
    });
    body.addEventListener("dragleave", function () { body.classList.remove("dropping"); });
    body.addEventListener("drop", function (event) {
      var files = event.dataTransfer ? event.dataTransfer.files : null;
      if (!files || !files.length) { return; }
      event.preventDefault();
      body.classList.remove("dropping");
      dropped = files[0];
      if (altInput.value.trim()) {
        document.getElementById("insert-image").click();
      } else {
        say("Dropped " + dropped.name + ": write its alt text, then press Insert image.", false);
        altInput.focus();
      }
    });
  }

  document.querySelectorAll("[data-progress-url]").forEach(watch);
  var uploads = document.getElementById("image-upload");
  if (uploads) { imageUploads(uploads); }
  document.querySelectorAll("form[data-confirm]").forEach(confirmations);
  document.querySelectorAll("form[data-preview-url]").forEach(livePreview);
})();
