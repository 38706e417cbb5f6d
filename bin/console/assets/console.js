// mqconsole: live TPS charts. Every element with data-series="<prefix>" gets a canvas that
// polls /api/tps?prefix=<prefix> once per sampling interval and draws one line per series
// named in data-labels, plus a legend with the latest and the peak rate of each.
(function () {
  "use strict";
  var COLORS = ["#1f6feb", "#1a7f37", "#bf3989", "#9a6700"];

  function setup(el) {
    var canvas = document.createElement("canvas");
    var legend = document.createElement("p");
    legend.className = "legend";
    legend.textContent = "waiting for samples…";
    el.appendChild(canvas);
    el.appendChild(legend);
    var labels = (el.getAttribute("data-labels") || "").split(",").filter(Boolean);
    var prefix = el.getAttribute("data-series");
    function poll() {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", "/api/tps?prefix=" + encodeURIComponent(prefix));
      xhr.onload = function () {
        var every = 5000;
        if (xhr.status === 200) {
          var data = JSON.parse(xhr.responseText);
          every = Math.max(1000, data.interval_ms || every);
          draw(canvas, legend, labels, data);
        } else {
          legend.textContent = "the console answered " + xhr.status + "; retrying";
        }
        setTimeout(poll, every);
      };
      xhr.onerror = function () {
        legend.textContent = "the console does not answer; retrying";
        setTimeout(poll, 5000);
      };
      xhr.send();
    }
    poll();
  }

  function draw(canvas, legend, labels, data) {
    var w = canvas.clientWidth || 400, h = canvas.clientHeight || 160;
    var ratio = window.devicePixelRatio || 1;
    canvas.width = w * ratio;
    canvas.height = h * ratio;
    var ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, w, h);
    var max = 1, t0 = Infinity, t1 = -Infinity;
    labels.forEach(function (l) {
      (data.series[l] || []).forEach(function (p) {
        max = Math.max(max, p[1]);
        t0 = Math.min(t0, p[0]);
        t1 = Math.max(t1, p[0]);
      });
    });
    var left = 44, bottom = h - 16, top = 8, right = w - 8;
    ctx.strokeStyle = "#d9dee5";
    ctx.fillStyle = "#5f6b7a";
    ctx.font = "11px sans-serif";
    for (var i = 0; i <= 2; i++) {
      var y = bottom - (bottom - top) * i / 2;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.fillText((max * i / 2).toFixed(max < 10 ? 1 : 0), 2, y + 4);
    }
    var span = Math.max(1, t1 - t0);
    ctx.fillText(Math.round(span / 1000) + " s", right - 30, h - 2);
    var parts = [];
    labels.forEach(function (l, k) {
      var pts = data.series[l] || [];
      ctx.strokeStyle = COLORS[k % COLORS.length];
      ctx.lineWidth = 2;
      ctx.beginPath();
      pts.forEach(function (p, j) {
        var x = left + (right - left) * (p[0] - t0) / span;
        var y = bottom - (bottom - top) * p[1] / max;
        if (j === 0) { ctx.moveTo(x, y); } else { ctx.lineTo(x, y); }
      });
      ctx.stroke();
      var now = pts.length ? pts[pts.length - 1][1] : 0;
      var peak = pts.reduce(function (m, p) { return Math.max(m, p[1]); }, 0);
      parts.push('<b style="color:' + COLORS[k % COLORS.length] + '">' + l + "</b> now <span class=\"now\" data-label=\"" +
        l + "\">" + now.toFixed(1) + "</span>/s, peak <span class=\"peak\" data-label=\"" + l + "\">" +
        peak.toFixed(1) + "</span>/s");
    });
    // Labels are the page's own fixed words (put, get, send, consume), numbers are formatted
    // here: nothing from the cluster is inserted as HTML.
    legend.innerHTML = parts.join(" · ");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var charts = document.querySelectorAll("[data-series]");
    for (var i = 0; i < charts.length; i++) { setup(charts[i]); }
  });
})();
