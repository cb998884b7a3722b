package kernel

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkSnapshot1000 measures one Snapshot with about 1,000 unix sockets on the
// machine, all in this process:
//   - conns: 1 listener on the observed path and 500 connections to it (1,001 sockets
//     the snapshot reports: a leader with 500 followers);
//   - unrelated: 1 listener with 1 connection, plus 500 socketpairs elsewhere (1,003
//     sockets the snapshot must skip).
//
// Each with pids = [self] and pids = nil (all of /proc).
func BenchmarkSnapshot1000(b *testing.B) {
	for _, shape := range []string{"conns", "unrelated"} {
		b.Run(shape, func(b *testing.B) {
			path := sockPath(b)
			l := listenUnix(b, path)
			pairs := 500
			if shape == "unrelated" {
				pairs = 1
				for range 500 {
					fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
				}
			}
			for range pairs {
				c, err := net.Dial("unix", path)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { c.Close() })
				a, err := l.Accept()
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { a.Close() })
			}
			o := NewUnix(path)
			for _, scope := range []struct {
				name string
				pids []int
			}{{name: "self", pids: self()}, {name: "all", pids: nil}} {
				b.Run(scope.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						s, err := o.Snapshot(scope.pids)
						if err != nil {
							b.Fatal(err)
						}
						if len(s.Conns) != pairs || len(s.Listeners) != 1 {
							b.Fatalf("snapshot has %d conns, %d listeners; want %d, 1", len(s.Conns), len(s.Listeners), pairs)
						}
					}
				})
			}
		})
	}
}
