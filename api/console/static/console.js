// Live dashboard: reload the participants region when the site changes (Server-Sent Events).
(function () {
  var region = document.getElementById("participants");
  if (!region || !window.EventSource) { return; }
  var source = new EventSource(region.dataset.stream);
  source.addEventListener("change", function () {
    fetch(region.dataset.fragment, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { region.innerHTML = html; } });
  });
})();
