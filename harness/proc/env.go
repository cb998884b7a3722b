package proc

import (
	"strconv"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// EnvSpec is the protocol environment of one peer (docs/PROTOCOL.md).
type EnvSpec struct {
	Transport  string // "unix" or "tcp"
	Addr       string // socket path or 127.0.0.1:PORT
	Peer       string // peer id, e.g. "p3"
	SecretFile string // tcp only; empty leaves the variable unset
	Failpoints string // empty leaves the variable unset
}

// Env returns the protocol variables as KEY=VALUE strings, to append to os.Environ().
func Env(s EnvSpec) []string {
	env := []string{
		protocol.EnvProtocol + "=" + strconv.Itoa(protocol.Version),
		protocol.EnvTransport + "=" + s.Transport,
		protocol.EnvAddr + "=" + s.Addr,
		protocol.EnvPeer + "=" + s.Peer,
	}
	if s.SecretFile != "" {
		env = append(env, protocol.EnvSecretFile+"="+s.SecretFile)
	}
	if s.Failpoints != "" {
		env = append(env, protocol.EnvFailpoints+"="+s.Failpoints)
	}
	return env
}
