package peerio

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Transports a peer may be asked to use, the values of protocol.EnvTransport.
const (
	TransportUnix = "unix"
	TransportTCP  = "tcp"
)

// ErrEnv marks a missing or malformed protocol environment variable.
var ErrEnv = errors.New("bad peer environment")

// Env is the protocol environment a peer was started with. ParseEnv checks every field, so a
// peer may use them as they are.
type Env struct {
	// Protocol is the protocol version, always protocol.Version.
	Protocol int
	// Transport is TransportUnix or TransportTCP.
	Transport string
	// Addr is the election address: an absolute socket path (unix) or 127.0.0.1:PORT (tcp).
	Addr string
	// Peer is this peer's id within the run, e.g. "p3".
	Peer string
	// SecretFile is the file holding the group's shared secret; set for tcp only, and may
	// be "" even then if the peer was started by hand.
	SecretFile string
	// Failpoints is the raw failpoint spec, "" when the harness does not steer this peer.
	Failpoints string
}

// ParseEnv reads the protocol environment through lookup (os.LookupEnv in a real peer). The
// error wraps ErrEnv and names the variable and the fix.
func ParseEnv(lookup func(string) (string, bool)) (Env, error) {
	get := func(name string) (string, error) {
		v, ok := lookup(name)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: %s is not set; a peer must be started by splitbrain, or with the variables of docs/PROTOCOL.md", ErrEnv, name)
		}
		return v, nil
	}
	var env Env
	v, err := get(protocol.EnvProtocol)
	if err != nil {
		return Env{}, err
	}
	if env.Protocol, err = strconv.Atoi(v); err != nil || env.Protocol != protocol.Version {
		return Env{}, fmt.Errorf("%w: %s=%q: this peer speaks protocol version %d", ErrEnv, protocol.EnvProtocol, v, protocol.Version)
	}
	if env.Transport, err = get(protocol.EnvTransport); err != nil {
		return Env{}, err
	}
	if env.Addr, err = get(protocol.EnvAddr); err != nil {
		return Env{}, err
	}
	if env.Peer, err = get(protocol.EnvPeer); err != nil {
		return Env{}, err
	}
	switch env.Transport {
	case TransportUnix:
		if !filepath.IsAbs(env.Addr) {
			return Env{}, fmt.Errorf("%w: %s=%q: a unix address must be an absolute socket path", ErrEnv, protocol.EnvAddr, env.Addr)
		}
	case TransportTCP:
		host, port, err := net.SplitHostPort(env.Addr)
		if err != nil || host != "127.0.0.1" || port == "" || port == "0" {
			return Env{}, fmt.Errorf("%w: %s=%q: a tcp address must be 127.0.0.1:PORT", ErrEnv, protocol.EnvAddr, env.Addr)
		}
	default:
		return Env{}, fmt.Errorf("%w: %s=%q: want %q or %q", ErrEnv, protocol.EnvTransport, env.Transport, TransportUnix, TransportTCP)
	}
	// The harness always sets the secret for tcp; a peer that does not authenticate (a
	// canary) need not have it, so its absence is not an error here.
	env.SecretFile, _ = lookup(protocol.EnvSecretFile)
	env.Failpoints, _ = lookup(protocol.EnvFailpoints)
	return env, nil
}
