package chaos

import (
	"reflect"
	"slices"
	"testing"
)

func TestSimplificationsDeleteUnsteerAndMerge(t *testing.T) {
	steps := []Step{
		{Op: OpStart, Peers: []string{"p1"}, Steered: true},
		{Op: OpStart, Peers: []string{"p2"}},
		{Op: OpStart, Peers: []string{"p3"}},
		{Op: OpBroadcast, Role: RoleLeader},
	}
	got := simplifications(steps, true)
	// 4 deletions, 1 steered start made free, 1 merge of the two free starts.
	if len(got) != 6 {
		t.Fatalf("got %d candidates, want 6: %v", len(got), got)
	}
	if !reflect.DeepEqual(got[0], steps[:3]) {
		t.Errorf("first candidate should delete the last step: %v", got[0])
	}
	if free := got[4]; free[0].Steered || !reflect.DeepEqual(free[1:], steps[1:]) {
		t.Errorf("candidate 5 should start p1 free and change nothing else: %v", free)
	}
	merged := got[5]
	if len(merged) != 3 || !slices.Equal(merged[1].Peers, []string{"p2", "p3"}) || merged[2].Op != OpBroadcast {
		t.Errorf("candidate 6 should start p2 and p3 in one step: %v", merged)
	}
	if !slices.Equal(steps[1].Peers, []string{"p2"}) {
		t.Errorf("the schedule itself was changed: %v", steps)
	}
	if n := len(simplifications(steps, false)); n != 5 {
		t.Errorf("timing schedules merge no starts: %d candidates, want 5", n)
	}
}

func TestSimplerOrdersByStepsThenActingThenSteered(t *testing.T) {
	start := Step{Op: OpStart, Peers: []string{"p1"}}
	steered := Step{Op: OpStart, Peers: []string{"p1"}, Steered: true}
	kill := Step{Op: OpKill, Role: RoleLeader}
	settle := Step{Op: OpSettle}
	for _, c := range []struct {
		a, b []Step
		want bool
	}{
		{[]Step{start, settle}, []Step{start, kill, settle}, true},
		{[]Step{start, kill, settle}, []Step{start, settle}, false},
		{[]Step{start, kill, settle}, []Step{start, kill, kill}, true}, // a settle in place of a step
		{[]Step{start, kill, settle}, []Step{steered, kill, settle}, true},
		{[]Step{steered, kill, settle}, []Step{start, kill, settle}, false},
		{[]Step{start, kill, settle}, []Step{start, kill, settle}, false},
	} {
		if got := simpler(c.a, c.b); got != c.want {
			t.Errorf("simpler(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
