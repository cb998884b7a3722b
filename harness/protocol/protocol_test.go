package protocol_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

func TestParseEvent(t *testing.T) {
	ev, err := protocol.ParseEvent([]byte(`{"event":"leader","epoch":7,"extra":"ignored"}` + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Event != protocol.EventLeader || ev.Epoch == nil || *ev.Epoch != 7 {
		t.Errorf("got %+v", ev)
	}
	long := strings.Repeat("x", 500)
	for _, tc := range []struct{ line, want string }{
		{`garbage`, "not a JSON event object"},
		{`["event","leader"]`, "not a JSON event object"},
		{`{"kind":"leader"}`, `no "event" field`},
		{`{"event":"boss"}`, `unknown event "boss"`},
		{long, "..."},
	} {
		_, err := protocol.ParseEvent([]byte(tc.line))
		if !errors.Is(err, protocol.ErrProtocol) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseEvent(%.40q) = %v; want ErrProtocol mentioning %q", tc.line, err, tc.want)
		}
		if len(err.Error()) > 300 {
			t.Errorf("error for a long line is %d bytes; the line must be clipped", len(err.Error()))
		}
	}
}

func TestParseCommand(t *testing.T) {
	c, err := protocol.ParseCommand(protocol.Encode(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "b1", Data: "hi"}))
	if err != nil || c.ID != "b1" || c.Data != "hi" {
		t.Errorf("round trip: %+v, %v", c, err)
	}
	if _, err := protocol.ParseCommand([]byte(`{"cmd":"explode"}`)); !errors.Is(err, protocol.ErrProtocol) {
		t.Errorf("unknown command: %v", err)
	}
}
