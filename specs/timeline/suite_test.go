// Package timeline_test holds the behaviour specs of the run timeline page (harness/timeline):
// a hand-made canary history (testdata/canary.jsonl: a probe-then-unlink split brain, judged
// by the real checkers) is rendered and opened in headless Chromium, and what the browser
// shows after the page's script ran is checked: the DOM (--dump-dom) and a screenshot. A
// synthetic white-box run of 200 peers (and one of 1,000) with two split brains checks the
// tools for big runs: healthy lanes folded away and back, next/previous violation, zoom, the
// legend; buttons are clicked by a script appended to a copy of the page.
//
// Run: go test ./specs/timeline/   (needs /usr/bin/chromium: apt-get install -y chromium;
// without it every spec is skipped, saying so). SPLITBRAIN_UPDATE_SCREENSHOT=1 also writes
// the screenshot to docs/img/timeline-canary.png for the README.
package timeline_test

import (
	"os/exec"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestTimeline(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Timeline page (headless Chromium)")
}

// chromium is the browser binary, "" when none is installed.
var chromium string

var _ = BeforeSuite(func() {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			return
		}
	}
})
