// Draws the Teams previews with Microsoft's Adaptive Cards renderer (vendored). Every page works
// without this: the card's JSON is on the page as well. Actions in a preview do nothing.
(function () {
  "use strict";
  var nodes = document.querySelectorAll(".card-preview[data-card]");
  if (!nodes.length) { return; }
  if (!window.AdaptiveCards) { return; }
  var host = new window.AdaptiveCards.HostConfig({
    fontFamily: "'Segoe UI', 'Helvetica Neue', Arial, sans-serif",
    supportsInteractivity: true
  });
  Array.prototype.forEach.call(nodes, function (el) {
    try {
      var card = new window.AdaptiveCards.AdaptiveCard();
      card.hostConfig = host;
      card.onExecuteAction = function () { /* a preview: never follow its links */ };
      card.parse(JSON.parse(el.getAttribute("data-card")));
      var drawn = card.render();
      if (!drawn) { throw new Error("the renderer returned nothing"); }
      el.textContent = "";
      el.appendChild(drawn);
      el.classList.add("rendered");
    } catch (err) {
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = "The card could not be drawn: " + err.message;
      el.appendChild(p);
    }
  });
})();
