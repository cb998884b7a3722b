// Package timeline draws one run as a picture: timeline.html, a single self-contained page
// (inline CSS, JavaScript and SVG; no network) that a person opens from a result folder to
// see what happened and where it went wrong.
//
// [Render] reads the run's history and the checkers' results and writes the page:
//   - a header with the implementation, transport, address, seed, verdict and replay command;
//   - a lane per peer with its state over time (starting, follower, leader, electing, paused,
//     dead), from its protocol events, or, for a black-box peer that reports no role, from
//     the kernel: the process owning a listener leads, a process with a connection follows;
//     a thin strip under each lane is the kernel's view of that process (listening, orphaned
//     listener, connected) whatever the peer says;
//   - the injected faults, as labelled markers, and on the lane of the peer they hit;
//   - the kernel's listener count as its own track, red from two up, hatched with orphans;
//   - every failed (and inconclusive) check's evidence at its time, with the evidence in a
//     details panel on click, and in full, statically, below the chart.
//
// The history is reduced to intervals (a change of state opens one) before it is written,
// and the browser draws each state as one SVG path, merging what falls within a pixel
// column (the more important state wins, so a short split brain stays visible): the page
// has a few hundred DOM nodes whether the run has ten records or a million.
//
// For runs of 50 to 1,000 peers the toolbar has: a toggle that folds the healthy lanes away
// (on by default above 40 lanes; a lane is healthy when no violation names it, it never
// crashed, reported an error or broke the protocol, was never seen on an orphaned listener,
// and never led), previous/next buttons that step through the violations (each opens its
// evidence, zooms in around it and scrolls its first lane into view), zoom in, out and back to
// the whole run (or drag across the chart, or shift+wheel), and a legend. Keys: n/p next and
// previous violation, +/- zoom, 0 whole run, f fold. Above 300 lanes shown, rows are dense.
//
// Everything a peer controls (ids, stderr, protocol errors) reaches the page either through
// html/template or as JSON set with textContent: it is never parsed as HTML.
package timeline
