// voc web: keep the call page's transcript in step with the audio player. No framework, no build.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript .utt"));
  if (!lines.length) return;
  var current = null;

  function seek(seconds) {
    if (!player) return;
    player.currentTime = Math.max(0, seconds);
    var p = player.play();
    if (p && p.catch) p.catch(function () { /* autoplay may be refused; the seek still happened */ });
  }

  function lineAt(t) {
    // The last line that has started by t (lines are in time order; overlaps go to the later one).
    var found = null;
    for (var k = 0; k < lines.length; k++) {
      var s = parseFloat(lines[k].dataset.start), e = parseFloat(lines[k].dataset.end);
      if (s <= t + 0.05 && t < e + 0.25) found = lines[k];
      if (s > t) break;
    }
    return found;
  }

  function highlight() {
    var line = lineAt(player.currentTime);
    if (line === current) return;
    if (current) current.classList.remove("current");
    current = line;
    if (line) {
      line.classList.add("current");
      var box = line.getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) line.scrollIntoView({block: "nearest"});
    }
  }

  lines.forEach(function (line) {
    line.addEventListener("click", function (ev) {
      if (ev.target.closest("a, button")) return;
      seek(parseFloat(line.dataset.start));
    });
  });
  document.querySelectorAll("a.seek").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      if (!player) return;
      ev.preventDefault();
      seek(parseFloat(a.dataset.start));
    });
  });
  if (player) {
    player.addEventListener("timeupdate", highlight);
    player.addEventListener("seeked", highlight);
  }
})();
