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

// Keyboard shortcuts (listed on the pages): queue j/k/c/Enter; call page c/r/n/q. Never while typing in a field.
(function () {
  "use strict";
  function typing(ev) {
    var t = ev.target;
    return ev.ctrlKey || ev.metaKey || ev.altKey || (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)));
  }
  function click(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr[data-item]"));
  var at = -1;
  function select(k) {
    if (!rows.length) return;
    if (at >= 0) rows[at].classList.remove("selected");
    at = Math.max(0, Math.min(rows.length - 1, k));
    rows[at].classList.add("selected");
    rows[at].scrollIntoView({block: "nearest"});
  }
  document.addEventListener("keydown", function (ev) {
    if (typing(ev)) return;
    var key = ev.key;
    if (rows.length) {
      if (key === "j") select(at + 1);
      else if (key === "k") select(at - 1);
      else if (key === "c") {
        var row = at >= 0 ? rows[at] : rows.filter(function (r) { return r.querySelector("form button"); })[0];
        if (row && row.querySelector("form button")) row.querySelector("form button").click();
      } else if (key === "Enter" && at >= 0) rows[at].querySelector("a").click();
      else return;
      ev.preventDefault();
      return;
    }
    if (!document.getElementById("review")) return;
    var done = (key === "c" && click("#claim")) || (key === "r" && click("#resolve")) ||
               (key === "n" && click("#next-item")) || (key === "q" && click("a[href='/queue']"));
    if (done) ev.preventDefault();
  });
})();
