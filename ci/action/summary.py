#!/usr/bin/env python3
"""ci/action/summary.py: the GitHub Action's job summary.

    summary.py DIR [--artifact NAME] [--exit CODE]

Reads DIR/results.json (a `splitbrain conformance` or `merge` report, or a `splitbrain run`
result folder) and appends a Markdown summary to $GITHUB_STEP_SUMMARY (stdout when it is not
set): the verdict, a table of cases x invariants, the confidence line, and for each failed case
its first evidence, its replay command and where its timeline is in the artifact.

The confidence line is splitbrain's own: results.json's "confidence" (a run's, or a
conformance report's over every case), worded as splitbrain words it.

Exit status: 0, or 3 when DIR has no readable results.json (the summary then says so).
Standard library only.
"""

import argparse
import json
import os
import sys

ICONS = {
    "pass": "\u2705",
    "fail": "\u274c",
    "inconclusive": "\u2754",
    "not-judged": "\u2796",
    "harness-error": "\u26a0\ufe0f",
    "skipped": "\u23ed\ufe0f",
}
EXIT_MEANING = {0: "valid", 1: "a violation", 2: "inconclusive", 3: "harness error"}


def cell(s, limit=300):
    """s made safe for a Markdown table cell, cut at limit characters."""
    s = " ".join(str(s).split())
    if len(s) > limit:
        s = s[: limit - 1] + "\u2026"
    return s.replace("|", "\\|")


def code(s, limit=300):
    s = cell(s, limit).replace("`", "'")
    return "`" + s + "`"


def icon(verdict):
    return ICONS.get(verdict, "\u2754")


def cases_of(report):
    """The report's cases: a conformance report's own, or a run folder as one case."""
    if report.get("kind") == "splitbrain-conformance":
        return report.get("cases") or []
    return [{
        "name": "run",
        "verdict": report.get("verdict", "none"),
        "exit_code": report.get("exit_code"),
        "replay": report.get("replay", ""),
        "duration": report.get("duration", 0),
        "invariants": report.get("invariants") or [],
    }]


def figure_sum(cases, invariant, name):
    total = 0
    for c in cases:
        for inv in c.get("invariants") or []:
            if inv.get("name") == invariant:
                total += (inv.get("figures") or {}).get(name, 0)
    return int(total)


def pct(f):
    x = 100 * f
    if x >= 10:
        return "%.0f" % x
    if x >= 1:
        return "%.1f" % x
    return "%.2g" % x


def confidence(report, cases):
    """The confidence line, as splitbrain prints it, from results.json's "confidence": a run's,
    or a conformance report's over every case."""
    c = report.get("confidence")
    if not isinstance(c, dict):
        return "no bound: results.json carries no confidence figures (a splitbrain older than this action?)"
    trials, violations = int(c.get("trials", 0)), int(c.get("violations", 0))
    if trials == 0:
        return "no leader kill, so no bound on the split-brain rate per leader kill"
    bound = "rate below %s %% at %s %% confidence" % (pct(float(c.get("rate_upper_bound", 1))), pct(float(c.get("level", 0.95))))
    if violations == 0:
        return "no split brain in %d leader kills: %s" % (trials, bound)
    return "split brain after %d of %d leader kills: %s" % (violations, trials, bound)


def seconds(ns):
    try:
        return "%.1f s" % (float(ns) / 1e9)
    except (TypeError, ValueError):
        return ""


def summary(out, report, artifact, exit_code):
    cases = cases_of(report)
    verdict = report.get("verdict", "none")
    if exit_code is None:
        exit_code = report.get("exit_code")
    title = "splitbrain conformance" if report.get("kind") == "splitbrain-conformance" else "splitbrain run"
    lines = ["### %s: %s %s (exit %s%s)" % (
        title, icon(verdict), verdict.upper(), exit_code,
        ", " + EXIT_MEANING[exit_code] if exit_code in EXIT_MEANING else ""), ""]

    facts = []
    if report.get("suite_version"):
        facts.append("suite `%s` (%s)" % (report["suite_version"], report.get("size", "?")))
    run = report.get("run") or {}
    impl = report.get("impl") or run.get("impl")
    if impl:
        facts.append("impl %s" % code(impl))
    transport = report.get("transport") or run.get("transport")
    if transport:
        facts.append("transport %s" % transport)
    if report.get("shards"):
        facts.append("shard%s %s" % ("s" if len(report["shards"]) > 1 else "", ", ".join(report["shards"])))
    facts.append("%d case%s" % (len(cases), "" if len(cases) == 1 else "s"))
    lines += [" \u00b7 ".join(facts), ""]
    if report.get("missing"):
        lines += ["**Missing cases** (no shard ran them): " + ", ".join(code(m) for m in report["missing"]), ""]

    names = []
    for c in cases:
        for inv in c.get("invariants") or []:
            if inv.get("name") not in names:
                names.append(inv.get("name"))
    lines.append("| case | verdict | " + " | ".join(names) + " | time |")
    lines.append("|---|---|" + "---|" * len(names) + "---|")
    for c in cases:
        by = {inv.get("name"): inv.get("verdict") for inv in c.get("invariants") or []}
        row = [code(c.get("name", "?"), 60), "%s %s" % (icon(c.get("verdict")), c.get("verdict", "?"))]
        row += [icon(by[n]) if n in by else "" for n in names]
        row.append(seconds(c.get("duration")))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "%s pass \u00b7 %s fail \u00b7 %s inconclusive \u00b7 %s not judged \u00b7 %s harness error" % (
        ICONS["pass"], ICONS["fail"], ICONS["inconclusive"], ICONS["not-judged"], ICONS["harness-error"]), ""]

    lines += ["**Confidence:** " + confidence(report, cases), ""]

    bad = [c for c in cases if c.get("verdict") in ("fail", "inconclusive", "harness-error")]
    if bad:
        lines += ["#### What went wrong", ""]
        for c in bad:
            name = c.get("name", "?")
            first = c.get("error", "")
            for inv in c.get("invariants") or []:
                if inv.get("verdict") in ("fail", "inconclusive"):
                    ev = inv.get("evidence") or []
                    first = "%s: %s" % (inv.get("name"), ev[0].get("what") if ev else inv.get("summary", ""))
                    if inv.get("verdict") == "fail":
                        break
            lines.append("- %s %s %s: %s" % (icon(c.get("verdict")), code(name, 60), c.get("verdict"), cell(first)))
            if c.get("replay"):
                lines.append("  - replay: %s" % code(c["replay"], 1000))
            case_dir = c.get("dir") or ("." if name == "run" else "")
            if case_dir and os.path.isfile(os.path.join(out, case_dir, "timeline.html")):
                where = "%s/timeline.html" % case_dir if case_dir != "." else "timeline.html"
                lines.append("  - timeline: `%s`%s" % (where, " in the artifact `%s`" % artifact if artifact else ""))
        lines.append("")

    if artifact:
        lines += ["The result folder (results.json, junit.xml, each case's history.jsonl and timeline.html) "
                  "is uploaded as the artifact `%s`." % artifact, ""]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write the job summary of a splitbrain result folder.")
    ap.add_argument("dir", help="the result folder (results.json)")
    ap.add_argument("--artifact", default="", help="the name the folder is uploaded under")
    ap.add_argument("--exit", type=int, default=None, help="splitbrain's exit code (default: the report's)")
    a = ap.parse_args(argv)

    status = 0
    try:
        with open(os.path.join(a.dir, "results.json")) as f:
            report = json.load(f)
        text = summary(a.dir, report, a.artifact, a.exit)
    except (OSError, ValueError) as e:
        text = "### splitbrain: %s no report (exit %s)\n\n%s has no readable results.json: %s\n" % (
            ICONS["harness-error"], a.exit if a.exit is not None else 3, a.dir, cell(e))
        status = 3
    dest = os.environ.get("GITHUB_STEP_SUMMARY")
    if dest:
        with open(dest, "a") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
