package verdicts_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Item E: a listener is on the address by its name or by the file the path names, and
// over tcp leaders are counted by owning process.
var _ = Describe("listener identity", func() {
	BeforeEach(needPython)

	It("judges valid a peer that binds a temporary name and renames it over the path", func() {
		// The first release saw no listener at all (its bound name is not the path) and
		// said no leader ever appeared (INCONCLUSIVE).
		code, r := run("--impl", "python3 "+pyPeer+" --rename", "--peers", "4", "--duration", "6s", "--faults", "kill-leader,kill-follower")
		Expect(code).To(Equal(0), verdicts(r))
	})

	It("judges valid one process listening on 127.0.0.1:PORT and [::1]:PORT", func() {
		// The first release counted the two listeners of one leader as two leaders.
		code, r := run("--impl", "python3 "+pyPeer, "--transport", "tcp", "--peers", "4", "--duration", "6s", "--faults", "kill-leader,kill-follower")
		Expect(code).To(Equal(0), verdicts(r))
	})
})
