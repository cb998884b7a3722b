package verdicts_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/check"
)

// Item G: a plant proves something only if peers met it.
var _ = Describe("no-data-loss", func() {
	BeforeEach(needPython)

	It("keeps a plant until slow-starting peers have tried to elect over it, and catches the one that deletes it", func() {
		// The peer starts in 3s and then removes whatever is at the path. The first
		// release lifted its plants after about 2s, before the peer ever looked: PASS.
		code, r := run("--impl", "python3 "+pyPeer+" --careless --startup 3", "--peers", "3", "--rounds", "2", "--faults", "plant-file")
		v, why := verdict(r, "no-data-loss")
		Expect(v).To(Equal(check.Fail), why)
		Expect(code).To(Equal(1))
	})

	It("passes a correct peer that met every plant", func() {
		code, r := run("--impl", "python3 "+pyPeer+" --startup 1", "--peers", "3", "--rounds", "3", "--faults", "plant-file,plant-dir")
		v, why := verdict(r, "no-data-loss")
		Expect(v).To(Equal(check.Pass), why)
		Expect(why).NotTo(ContainSubstring("not judged"))
		Expect(code).To(Equal(0), verdicts(r))
	})
})
