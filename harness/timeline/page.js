// Draws the timeline from the JSON model in #tl-data. Every state is one SVG path (all its
// intervals as sub-paths), intervals are merged per pixel column (the higher state index
// wins), so the DOM stays small for any history. Text from the model is only ever set with
// textContent or setAttribute: never parsed as HTML.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("tl-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var LABEL_W = 170, RIGHT = 14;
  var top = document.getElementById("top"), lanesSvg = document.getElementById("lanes");
  var chart = document.getElementById("chart"), tip = document.getElementById("tip");
  var panel = document.getElementById("panel"), panelBody = document.getElementById("panel-body");
  var full = [0, Math.max(D.horizon, 1)];
  var view = full.slice();
  var selected = -1;
  var many = D.lanes.length > 40;
  // Healthy lanes (see the model) fold away among many: shown lists the lanes drawn, in order.
  var healthyCount = D.lanes.filter(function (l) { return l.healthy; }).length;
  var folded = many && healthyCount > 0 && healthyCount < D.lanes.length;
  var shown = [];
  var BAR, ROW, LPAD = 6, dense;
  function layout() {
    shown = [];
    D.lanes.forEach(function (l, i) { if (!folded || !l.healthy) shown.push(i); });
    dense = shown.length > 300;
    BAR = dense ? 6 : many ? 9 : 16;
    ROW = BAR + (dense ? 5 : many ? 9 : 12);
  }
  layout();
  // Rows of the top SVG.
  var Y = { axis: 16, phase: 30, faults: 38, faultLabels: [60, 72], count: 82, countH: 18, viol: 118, height: 134 };
  var plotW = 100, k = 1;

  var marksByLane = D.lanes.map(function () { return []; });
  D.marks.forEach(function (m) { if (m.lane >= 0) marksByLane[m.lane].push(m); });
  var violByLane = D.lanes.map(function () { return []; });
  D.violations.forEach(function (v, i) { v.lanes.forEach(function (l) { violByLane[l].push(i); }); });

  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function X(t) { return LABEL_W + (t - view[0]) * k; }
  function T(x) { return view[0] + (x - LABEL_W) / k; }

  // fmt formats ns for the current view: µs, ms or s, with as many decimals as step needs.
  function fmt(ns, step) {
    var span = view[1] - view[0], unit = 1e6, suf = "ms";
    if (span < 2e6) { unit = 1e3; suf = "µs"; } else if (span >= 5e9) { unit = 1e9; suf = "s"; }
    var d = step ? Math.max(0, Math.ceil(-Math.log10(step / unit) - 1e-9)) : 3;
    return (ns / unit).toFixed(Math.min(d, 6)) + suf;
  }
  function fmtLong(ns) {
    if (Math.abs(ns) < 1e6) return (ns / 1e3).toFixed(0) + "µs";
    if (Math.abs(ns) < 1e10) return (ns / 1e6).toFixed(2) + "ms";
    return (ns / 1e9).toFixed(3) + "s";
  }
  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return p * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
  }

  // first returns the index of the first interval in xs (sorted, disjoint) ending after t.
  function first(xs, t) {
    var lo = 0, hi = xs.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (xs[mid][1] <= t) lo = mid + 1; else hi = mid; }
    return lo;
  }
  // at returns the interval of xs holding t, or null.
  function at(xs, t) {
    var i = first(xs, t);
    return i < xs.length && xs[i][0] <= t ? xs[i] : null;
  }
  var cols = new Int32Array(1);
  // columns merges intervals into pixel columns: cols[c] is the highest value(s) of the
  // intervals in column c, -1 where none is. It returns the runs of equal columns.
  function columns(xs, value) {
    if (cols.length !== plotW) cols = new Int32Array(plotW);
    cols.fill(-1);
    for (var i = first(xs, view[0]); i < xs.length; i++) {
      var s = xs[i];
      if (s[0] >= view[1]) break;
      var c0 = Math.max(0, Math.floor((s[0] - view[0]) * k)), c1 = Math.min(plotW, Math.ceil((s[1] - view[0]) * k));
      if (c0 >= plotW) continue;
      if (c1 <= c0) c1 = c0 + 1;
      var v = value(s);
      for (var c = c0; c < c1; c++) if (v > cols[c]) cols[c] = v;
    }
    var runs = [];
    for (var c = 0; c < plotW;) {
      var v = cols[c], e = c + 1;
      while (e < plotW && cols[e] === v) e++;
      if (v >= 0) runs.push([c, e, v]);
      c = e;
    }
    return runs;
  }
  function rect(x, y, w, h) { return "M" + x + " " + y + "h" + w + "v" + h + "h" + (-w) + "z"; }

  function markClass(kind) {
    if (/^kill/.test(kind)) return "m-kill";
    if (/^term/.test(kind)) return "m-term";
    if (kind === "pause") return "m-pause";
    if (kind === "resume") return "m-resume";
    if (kind === "crash") return "m-crash";
    if (kind === "protocol-error" || kind === "error") return "m-error";
    if (/^(start|storm|restart)/.test(kind)) return "m-start";
    return "m-other";
  }

  function draw() {
    var W = chart.clientWidth;
    plotW = Math.max(100, Math.floor(W - LABEL_W - RIGHT));
    k = plotW / (view[1] - view[0]);
    var lanesH = LPAD * 2 + shown.length * ROW;
    top.replaceChildren(); lanesSvg.replaceChildren();
    top.setAttribute("height", Y.height); top.setAttribute("viewBox", "0 0 " + W + " " + Y.height);
    lanesSvg.setAttribute("height", lanesH); lanesSvg.setAttribute("viewBox", "0 0 " + W + " " + lanesH);
    defs(top);

    // Time axis, with grid lines through both SVGs.
    var step = niceStep((view[1] - view[0]) / Math.max(2, plotW / 110));
    var ticks = el("g", { "class": "tick" }, top), grid = el("g", { "class": "tick" }, lanesSvg);
    for (var t = Math.ceil(view[0] / step) * step; t <= view[1]; t += step) {
      var x = X(t).toFixed(1);
      el("line", { x1: x, x2: x, y1: Y.axis + 3, y2: Y.height }, ticks);
      el("line", { x1: x, x2: x, y1: 0, y2: lanesH }, grid);
      el("text", { x: x, y: Y.axis, "text-anchor": "middle" }, ticks, fmt(t, step));
    }
    el("line", { "class": "axis-line", x1: LABEL_W, x2: LABEL_W + plotW, y1: Y.axis + 3, y2: Y.axis + 3 }, top);

    // Phases: a dashed line and the phase's name where it begins.
    var phaseD = "";
    D.phases.forEach(function (p) {
      if (p.t < view[0] || p.t > view[1]) return;
      var x = X(p.t).toFixed(1);
      phaseD += "M" + x + " " + (Y.phase - 8) + "V" + Y.height;
      el("text", { "class": "phase-label", x: +x + 3, y: Y.phase }, top, p.name);
    });
    el("path", { "class": "phase-line", d: phaseD }, top);
    var lanePhaseD = "";
    D.phases.forEach(function (p) { if (p.t >= view[0] && p.t <= view[1]) lanePhaseD += "M" + X(p.t).toFixed(1) + " 0V" + lanesH; });
    el("path", { "class": "phase-line", d: lanePhaseD }, lanesSvg);

    drawFaults();
    drawCount();
    drawViolations(lanesH);
    drawLanes();
    toolbar();
    document.body.setAttribute("data-view", Math.round(view[0]) + "," + Math.round(view[1]));
    document.body.setAttribute("data-rendered", "ok");
  }

  // toolbar sets the fold toggle, the violation counter and the fold note to the state.
  function toolbar() {
    var fb = document.getElementById("fold");
    fb.disabled = healthyCount === 0;
    var hp = healthyCount + " healthy peer" + (healthyCount === 1 ? "" : "s");
    fb.textContent = (folded ? "show " : "fold ") + hp;
    fb.setAttribute("aria-pressed", folded ? "true" : "false");
    var note = document.getElementById("folded-note");
    note.hidden = !folded;
    note.textContent = folded ? hp + " folded away (no violation, crash, error or orphaned listener, and never leader): " + shown.length + " of " + D.lanes.length + " lanes shown" : "";
    lanesSvg.setAttribute("data-shown", shown.length);
    lanesSvg.setAttribute("data-folded", folded ? healthyCount : 0);
    var n = D.violations.length;
    document.getElementById("viol-prev").disabled = n === 0;
    document.getElementById("viol-next").disabled = n === 0;
    document.getElementById("viol-pos").textContent = n === 0 ? "no violations" :
      (selected >= 0 ? "violation " + (selected + 1) + " of " + n : n + " violation" + (n === 1 ? "" : "s"));
  }

  function defs(svg) {
    var d = el("defs", {}, svg);
    var p = el("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, d);
    el("rect", { width: 3, height: 6, fill: "rgba(255,255,255,.55)" }, p);
  }

  function drawFaults() {
    el("text", { "class": "track-label", x: 8, y: Y.faults + 12 }, top, "faults");
    var g = el("g", { id: "faults-track", "data-faults": D.faults.length }, top);
    var groups = [], last = null;
    D.faults.forEach(function (f, i) {
      if (f.t < view[0] || f.t > view[1]) return;
      var x = Math.round(X(f.t));
      if (last && x - last.x < 4) { last.items.push(i); return; }
      last = { x: x, items: [i] };
      groups.push(last);
    });
    var byClass = {};
    groups.forEach(function (gr) {
      var c = markClass(D.faults[gr.items[0]].kind);
      byClass[c] = (byClass[c] || "") + "M" + gr.x + " " + Y.faults + "v12";
    });
    for (var c in byClass) el("path", { "class": "fault-tick " + c, d: byClass[c] }, g);
    var ends = Y.faultLabels.map(function () { return -1e9; });
    groups.forEach(function (gr) {
      var f = D.faults[gr.items[0]];
      var label = f.label + (gr.items.length > 1 ? " +" + (gr.items.length - 1) : "");
      var w = label.length * 6 + 8;
      for (var r = 0; r < ends.length; r++) {
        if (ends[r] < gr.x - 2 && gr.x + w < LABEL_W + plotW + RIGHT) {
          el("path", { "class": "fault-leader", d: "M" + gr.x + " " + (Y.faults + 12) + "V" + (Y.faultLabels[r] - 9) }, g);
          el("text", { "class": "fault-label " + markClass(f.kind), x: gr.x + 2, y: Y.faultLabels[r] }, g, label);
          ends[r] = gr.x + w;
          return;
        }
      }
    });
  }

  function drawCount() {
    el("text", { "class": "track-label", x: 8, y: Y.count + 13 }, top, "listeners");
    var g = el("g", { id: "count-track", "data-max": D.max_count }, top);
    // value = listeners*16 + orphaned (capped), so more listeners win, then more orphans.
    var runs = columns(D.count, function (s) { return Math.min(s[2], 99) * 16 + Math.min(s[3], 15); });
    var paths = { c0: "", c1: "", c2: "", orphan: "" };
    runs.forEach(function (r) {
      var n = r[2] >> 4, o = r[2] & 15, x = LABEL_W + r[0], w = r[1] - r[0];
      var d = rect(x, Y.count, w, Y.countH);
      paths[n === 0 ? "c0" : n === 1 ? "c1" : "c2"] += d;
      if (o > 0) paths.orphan += d;
    });
    for (var c in paths) el("path", { "class": "count-" + c, d: paths[c] }, g);
    // Labels where they fit, from the widest segments down.
    runs.slice().sort(function (a, b) { return (b[1] - b[0]) - (a[1] - a[0]); }).slice(0, 60).forEach(function (r) {
      var n = r[2] >> 4, o = r[2] & 15, w = r[1] - r[0];
      var long = n + (n === 1 ? " listener" : " listeners") + (o ? " (" + o + " orphaned)" : "");
      var text = long.length * 6.2 + 8 < w ? long : (String(n).length * 7 + 6 < w ? String(n) : "");
      if (!text) return;
      el("text", { "class": "count-label" + (n === 0 ? " zero" : ""), "data-count": n, "data-orphaned": o,
        x: LABEL_W + (r[0] + r[1]) / 2, y: Y.count + 13, "text-anchor": "middle" }, g, text);
    });
  }

  function drawViolations(lanesH) {
    el("text", { "class": "track-label", x: 8, y: Y.viol + 4 }, top, "violations");
    var g = el("g", { id: "violations-track", "data-violations": D.violations.length }, top);
    var lineTop = "", lineLanes = "";
    D.violations.forEach(function (v, i) {
      if (v.t < view[0] || v.t > view[1]) return;
      var x = X(v.t).toFixed(1);
      lineTop += "M" + x + " " + Y.count + "V" + (Y.viol - 7);
      lineLanes += "M" + x + " 0V" + lanesH;
    });
    el("path", { "class": "vline", d: lineTop }, top);
    el("path", { "class": "vline", d: lineLanes }, lanesSvg);
    D.violations.forEach(function (v, i) {
      if (v.t < view[0] || v.t > view[1]) return;
      var x = X(v.t);
      el("path", { "class": "violation-mark" + (v.verdict === "fail" ? "" : " inconclusive") + (i === selected ? " selected" : ""),
        "data-v": i, "data-check": v.check, d: "M" + x + " " + (Y.viol - 7) + "l7 7l-7 7l-7 -7z" }, g);
    });
  }

  function drawLanes() {
    var stateD = D.states.map(function () { return ""; });
    var kD = D.kstates.map(function () { return ""; });
    var markD = {}, violD = "", stripe = "";
    var labels = el("g", { id: "lane-labels", "class": dense ? "dense" : "" }, lanesSvg);
    shown.forEach(function (i, row) {
      var lane = D.lanes[i];
      var y = LPAD + row * ROW;
      if (row % 2 === 1) stripe += rect(0, y - 2, LABEL_W + plotW + RIGHT, ROW);
      var label = el("text", { "class": "lane-label", x: 8, y: y + BAR - (dense ? 0 : many ? 1 : 3), "data-peer": lane.peer, "data-lane": i }, labels, lane.peer);
      if (!many || lane.source !== "events") {
        el("tspan", { "class": "lane-source", dx: 6 }, label, lane.source === "events" ? "events" : "kernel");
      }
      columns(lane.spans, function (s) { return s[2]; }).forEach(function (r) {
        var x = LABEL_W + r[0], w = r[1] - r[0];
        stateD[r[2]] += D.states[r[2]] === "dead" ? rect(x, y + BAR / 2 - 1, w, 2) : rect(x, y, w, BAR);
      });
      columns(lane.kernel, function (s) { return s[2]; }).forEach(function (r) {
        kD[r[2]] += rect(LABEL_W + r[0], y + BAR + 2, r[1] - r[0], 3);
      });
      var lastX = {};
      marksByLane[i].forEach(function (m) {
        if (m.t < view[0] || m.t > view[1]) return;
        var c = markClass(m.kind), x = Math.round(X(m.t));
        if (lastX[c] !== undefined && x - lastX[c] < 3) return;
        lastX[c] = x;
        markD[c] = (markD[c] || "") + "M" + (x - 4) + " " + (y - 3) + "h8l-4 6z";
      });
      violByLane[i].forEach(function (vi) {
        var v = D.violations[vi];
        if (v.t < view[0] || v.t > view[1]) return;
        var x = X(v.t), cy = y + BAR / 2;
        violD += "M" + x + " " + (cy - 6) + "l6 6l-6 6l-6 -6z";
      });
    });
    lanesSvg.insertBefore(el("path", { "class": "stripe", d: stripe }), lanesSvg.firstChild);
    var bars = el("g", { id: "lane-bars" }, lanesSvg);
    D.states.forEach(function (s, i) { el("path", { "class": "st-" + s, "data-state": s, d: stateD[i] }, bars); });
    D.kstates.forEach(function (s, i) { if (i > 0) el("path", { "class": "ks-" + s, "data-kernel": s, d: kD[i] }, bars); });
    for (var c in markD) el("path", { "class": "lane-mark " + c, d: markD[c] }, bars);
    el("path", { "class": "lane-violation", d: violD }, bars);
  }

  function legend() {
    var lg = document.getElementById("legend");
    var items = D.states.map(function (s) { return ["st-" + s, s]; }).concat([
      ["ks-listening", "kernel: listening"], ["ks-orphaned", "orphaned listener"], ["ks-connected", "kernel: connected"],
      ["count-c1", "1 listener"], ["count-c2", "2+ listeners"], ["lg-violation", "violation"],
      ["m-kill", "▼ kill"], ["m-term", "▼ term"], ["m-pause", "▼ pause"], ["m-crash", "▼ crash"], ["m-error", "▼ error"]]);
    items.forEach(function (it) {
      var span = document.createElement("span"), i = document.createElement("i");
      i.className = "sw " + it[0];
      span.appendChild(i);
      span.appendChild(document.createTextNode(it[1]));
      lg.appendChild(span);
    });
  }

  // hit says what is under (x, y) of svg: tooltip text, and a violation index if any.
  function hit(svg, x, y) {
    var t = T(x), near = 6 / k, out = { text: "", v: -1 };
    function nearestViolation(list) {
      var best = -1, bd = near;
      list.forEach(function (i) { var d = Math.abs(D.violations[i].t - t); if (d <= bd) { bd = d; best = i; } });
      return best;
    }
    if (svg === top) {
      if (x < LABEL_W) return out;
      if (y >= Y.viol - 8) {
        out.v = nearestViolation(D.violations.map(function (_, i) { return i; }));
      } else if (y >= Y.count - 2) {
        var s = at(D.count, t);
        out.text = fmtLong(t) + "\n" + (s ? s[2] + " listener" + (s[2] === 1 ? "" : "s") + (s[3] ? ", " + s[3] + " orphaned" : "") +
          "\nfrom " + fmtLong(s[0]) + " to " + fmtLong(s[1]) : "no observation yet");
      } else if (y >= Y.faults - 4) {
        var fs = D.faults.filter(function (f) { return Math.abs(f.t - t) <= near; });
        out.text = fs.slice(0, 10).map(function (f) { return fmtLong(f.t) + "  " + f.text; }).join("\n") +
          (fs.length > 10 ? "\n… " + (fs.length - 10) + " more" : "");
      }
    } else {
      var row = Math.floor((y - LPAD + 2) / ROW);
      if (row < 0 || row >= shown.length) return out;
      var i = shown[row], lane = D.lanes[i];
      if (x < LABEL_W) {
        out.text = lane.peer + "\nprocesses: " + (lane.pids.join(", ") || "none") + "\nroles from " +
          (lane.source === "events" ? "its protocol events" : "the kernel (no role events)");
        return out;
      }
      out.v = nearestViolation(violByLane[i]);
      var sp = at(lane.spans, t), ks = at(lane.kernel, t);
      var lines = [lane.peer + (sp && sp[3] ? " · pid " + sp[3] : "") + " · " + fmtLong(t)];
      if (sp) lines.push(D.states[sp[2]] + " from " + fmtLong(sp[0]) + " to " + fmtLong(sp[1]) + " (" + fmtLong(sp[1] - sp[0]) + ")");
      if (ks) lines.push("kernel: " + D.kstates[ks[2]]);
      marksByLane[i].forEach(function (m) { if (Math.abs(m.t - t) <= near) lines.push(fmtLong(m.t) + "  " + m.text); });
      out.text = lines.join("\n");
    }
    if (out.v >= 0) {
      var v = D.violations[out.v];
      out.text = v.check + " (" + v.verdict + ") at " + fmtLong(v.t) + "\n" + v.what + "\nclick for the evidence";
    }
    return out;
  }

  function openPanel(i) {
    var v = D.violations[i], src = document.getElementById(v.id);
    if (!src) return;
    var copy = src.cloneNode(true);
    copy.removeAttribute("id");
    copy.querySelectorAll("details").forEach(function (d) { d.open = true; });
    panelBody.replaceChildren(copy);
    panel.hidden = false;
    panel.setAttribute("data-violation", v.id);
    selected = i;
    document.querySelectorAll(".violation-mark").forEach(function (m) {
      m.classList.toggle("selected", +m.getAttribute("data-v") === i);
    });
    if (location.hash !== "#" + v.id) history.replaceState(null, "", "#" + v.id);
    document.body.setAttribute("data-selected", i);
    toolbar();
  }
  document.getElementById("panel-close").addEventListener("click", function () {
    panel.hidden = true; selected = -1;
    document.body.removeAttribute("data-selected");
    toolbar();
    document.querySelectorAll(".violation-mark.selected").forEach(function (m) { m.classList.remove("selected"); });
  });

  // setView shows [a, b] (clipped to the run, at least 1µs wide) and redraws.
  function setView(a, b) {
    var w = Math.min(Math.max(b - a, 1000), full[1] - full[0]);
    a = Math.max(full[0], Math.min(a, full[1] - w));
    view = [a, a + w];
    draw();
  }
  // zoom scales the view by f around time c (the middle by default): f < 1 zooms in.
  function zoom(f, c) {
    if (c === undefined) c = (view[0] + view[1]) / 2;
    setView(c - (c - view[0]) * f, c + (view[1] - c) * f);
  }
  // go selects violation i (wrapping around): its evidence in the panel, the time around it
  // in view (a twentieth of the run, or the current view if it is already narrower; the mark
  // a third of the way in, clear of the panel), and its first lane scrolled to.
  function go(i) {
    var n = D.violations.length;
    if (n === 0) return;
    i = ((i % n) + n) % n;
    var v = D.violations[i], w = Math.min(view[1] - view[0], Math.max((full[1] - full[0]) / 20, 2e6));
    openPanel(i);
    setView(v.t - w / 3, v.t + 2 * w / 3);
    if (v.lanes.length > 0) {
      var label = lanesSvg.querySelector('text.lane-label[data-lane="' + v.lanes[0] + '"]');
      if (label && label.scrollIntoView) label.scrollIntoView({ block: "center" });
    }
  }
  document.getElementById("viol-next").addEventListener("click", function () { go(selected + 1); });
  document.getElementById("viol-prev").addEventListener("click", function () { go(selected < 0 ? -1 : selected - 1); });
  document.getElementById("zoom-in").addEventListener("click", function () {
    zoom(0.5, selected >= 0 && D.violations[selected].t >= view[0] && D.violations[selected].t <= view[1] ? D.violations[selected].t : undefined);
  });
  document.getElementById("fold").addEventListener("click", function () { folded = !folded; layout(); draw(); });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    switch (e.key) {
      case "n": case "j": go(selected + 1); break;
      case "p": case "k": go(selected < 0 ? -1 : selected - 1); break;
      case "+": case "=": zoom(0.5); break;
      case "-": zoom(2); break;
      case "0": setView(full[0], full[1]); break;
      case "f": if (healthyCount > 0) { folded = !folded; layout(); draw(); } break;
      default: return;
    }
    e.preventDefault();
  });

  // Pointer: tooltip on hover, zoom on drag (and with the wheel, holding shift), evidence on click.
  var drag = null;
  [top, lanesSvg].forEach(function (svg) {
    function pos(e) { var r = svg.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
    svg.addEventListener("mousemove", function (e) {
      var p = pos(e);
      if (drag && drag.svg === svg) {
        var x0 = Math.min(drag.x, p[0]), x1 = Math.max(drag.x, p[0]);
        drag.box.setAttribute("x", x0); drag.box.setAttribute("width", x1 - x0);
        tip.hidden = true;
        return;
      }
      var h = hit(svg, p[0], p[1]);
      if (!h.text) { tip.hidden = true; return; }
      tip.textContent = h.text;
      tip.hidden = false;
      var tx = e.clientX + 14, ty = e.clientY + 14;
      if (tx + tip.offsetWidth > window.innerWidth - 8) tx = e.clientX - tip.offsetWidth - 14;
      if (ty + tip.offsetHeight > window.innerHeight - 8) ty = e.clientY - tip.offsetHeight - 14;
      tip.style.left = tx + "px"; tip.style.top = ty + "px";
      svg.style.cursor = h.v >= 0 ? "pointer" : "crosshair";
    });
    svg.addEventListener("mouseleave", function () { tip.hidden = true; });
    svg.addEventListener("mousedown", function (e) {
      var p = pos(e);
      if (p[0] < LABEL_W || e.button !== 0) return;
      drag = { svg: svg, x: p[0], box: el("rect", { "class": "zoom-box", x: p[0], y: 0, width: 0, height: svg.getAttribute("height") }, svg) };
      e.preventDefault();
    });
    svg.addEventListener("mouseup", function (e) {
      var p = pos(e), d = drag;
      drag = null;
      if (!d) return;
      d.box.remove();
      if (Math.abs(p[0] - d.x) > 5) {
        var a = T(Math.max(LABEL_W, Math.min(d.x, p[0]))), b = T(Math.min(LABEL_W + plotW, Math.max(d.x, p[0])));
        if (b - a >= 1000) setView(a, b);
        return;
      }
      var h = hit(svg, p[0], p[1]);
      if (h.v >= 0) openPanel(h.v);
    });
  });
  [top, lanesSvg].forEach(function (svg) {
    svg.addEventListener("wheel", function (e) {
      if (!e.shiftKey) return; // plain wheel scrolls the page
      var x = e.clientX - svg.getBoundingClientRect().left;
      if (x < LABEL_W) return;
      e.preventDefault();
      zoom((e.deltaY || e.deltaX) < 0 ? 0.8 : 1.25, T(x));
    }, { passive: false });
  });
  document.getElementById("zoom-reset").addEventListener("click", function () { setView(full[0], full[1]); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(2); });
  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  });

  try {
    legend();
    draw();
    var m = /^#(ev-[\w-]+)$/.exec(location.hash);
    if (m) D.violations.forEach(function (v, i) { if (v.id === m[1]) openPanel(i); });
  } catch (err) {
    var p = document.createElement("p");
    p.id = "chart-error";
    p.textContent = "The chart could not be drawn: " + err;
    chart.appendChild(p);
    document.body.setAttribute("data-rendered", "error");
  }
})();
