package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// errDumpInterrupted reports that the kernel's socket tables changed during a dump
// (NLM_F_DUMP_INTR): the result may be inconsistent, so the caller dumps again.
var errDumpInterrupted = errors.New("sock_diag dump interrupted by a concurrent change")

const (
	nlmsgHdrLen = 16 // sizeof(struct nlmsghdr)
	nlaHdrLen   = 4  // sizeof(struct nlattr)
	// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an attribute type.
	nlaTypeMask = 0x3fff

	// recvBufLen bounds one netlink datagram: the kernel sizes dump skbs from the
	// reader's buffer, capped at 32 KiB, so 64 KiB is never truncated.
	recvBufLen = 64 << 10
)

var ne = binary.NativeEndian

func nlAlign(n int) int { return (n + 3) &^ 3 }

// sockDiagDump sends one SOCK_DIAG_BY_FAMILY dump request with the given family-specific
// payload (unix_diag_req or inet_diag_req_v2) and calls fn with the payload of every
// reply message. buf is the receive buffer (recvBufLen bytes), reused across calls.
// The netlink socket lives only for the dump: nothing stale survives an error.
func sockDiagDump(buf, req []byte, fn func(msg []byte)) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("open NETLINK_SOCK_DIAG socket: %w", err)
	}
	defer unix.Close(fd)

	msg := make([]byte, nlmsgHdrLen+len(req))
	ne.PutUint32(msg[0:4], uint32(len(msg)))
	ne.PutUint16(msg[4:6], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(msg[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	const seq = 1
	ne.PutUint32(msg[8:12], seq)
	copy(msg[nlmsgHdrLen:], req)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send sock_diag request: %w", err)
	}

	interrupted := false
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read sock_diag reply: %w", err)
		}
		if n == len(buf) {
			return fmt.Errorf("read sock_diag reply: datagram of %d bytes may be truncated", n)
		}
		b := buf[:n]
		for len(b) >= nlmsgHdrLen {
			l := int(ne.Uint32(b[0:4]))
			typ := ne.Uint16(b[4:6])
			flags := ne.Uint16(b[6:8])
			if l < nlmsgHdrLen || l > len(b) {
				return fmt.Errorf("read sock_diag reply: malformed message length %d", l)
			}
			if flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			payload := b[nlmsgHdrLen:l]
			switch typ {
			case unix.NLMSG_DONE:
				// A dump's DONE carries an int: a negative errno if the dump failed.
				if len(payload) >= 4 {
					if e := int32(ne.Uint32(payload[0:4])); e < 0 {
						return fmt.Errorf("sock_diag dump: %w", unix.Errno(-e))
					}
				}
				if interrupted {
					return errDumpInterrupted
				}
				return nil
			case unix.NLMSG_ERROR:
				if len(payload) >= 4 {
					if e := int32(ne.Uint32(payload[0:4])); e < 0 {
						return fmt.Errorf("sock_diag request: %w", unix.Errno(-e))
					}
				}
				return errors.New("sock_diag request: short error message")
			case unix.NLMSG_NOOP:
			default:
				fn(payload)
			}
			b = b[min(nlAlign(l), len(b)):]
		}
	}
}

// forEachAttr calls fn with the type and value of every netlink attribute in b.
func forEachAttr(b []byte, fn func(typ uint16, val []byte)) {
	for len(b) >= nlaHdrLen {
		l := int(ne.Uint16(b[0:2]))
		typ := ne.Uint16(b[2:4]) & nlaTypeMask
		if l < nlaHdrLen || l > len(b) {
			return
		}
		fn(typ, b[nlaHdrLen:l])
		b = b[min(nlAlign(l), len(b)):]
	}
}
