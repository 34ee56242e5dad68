// The console's few live parts, no inline script (the CSP allows only this file).
(function () {
  // Live site summaries: reload a region when its site changes (Server-Sent Events).
  var regions = document.querySelectorAll("[data-stream]");
  Array.prototype.forEach.call(regions, function (region) {
    if (!window.EventSource) { return; }
    var source = new EventSource(region.dataset.stream);
    source.addEventListener("change", function () {
      fetch(region.dataset.fragment, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { region.innerHTML = html; } });
    });
  });
  // Reason dialogs: a button names its dialog; Escape or the close button shuts it.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.dialog);
      if (dialog && dialog.showModal) { dialog.showModal(); }
      return;
    }
    var closer = event.target.closest("[data-close]");
    if (closer) { closer.closest("dialog").close(); }
  });
})();
