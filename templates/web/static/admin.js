/* Dispatch admin: small progressive enhancements; every page works without them.
   - [data-progress-url]: poll the campaign's progress JSON every second, update the bar,
     until the campaign settled (finished, or paused/cancelled and its runner stopped).
   - form[data-confirm]: ask before submitting.
   - form[data-preview-url]: refresh the article preview while typing (server-rendered). */
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

  document.querySelectorAll("[data-progress-url]").forEach(watch);
  document.querySelectorAll("form[data-confirm]").forEach(confirmations);
  document.querySelectorAll("form[data-preview-url]").forEach(livePreview);
})();
