package kernel

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSockDiagErrorIsReported asks sock_diag about a family it has no handler for: the
// kernel's refusal must come back as an error naming the errno, not as an empty dump.
func TestSockDiagErrorIsReported(t *testing.T) {
	req := make([]byte, unixDiagReqLen)
	req[0] = unix.AF_BLUETOOTH // no sock_diag handler
	called := false
	err := sockDiagDump(make([]byte, recvBufLen), req, func([]byte) { called = true })
	var errno unix.Errno
	if !errors.As(err, &errno) || called {
		t.Fatalf("dump of AF_BLUETOOTH: err = %v, messages: %v; want an errno error and no messages", err, called)
	}
	t.Logf("kernel refused with: %v", err)
}
