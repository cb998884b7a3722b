package election_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/splitbrain-dev/splitbrain/election"
)

// next returns the next event of e that is not a Connection or Disconnection, whose timing
// relative to the others depends on scheduling.
func next(e *election.Elector) election.Event {
	for ev := range e.Events() {
		if ev.Kind != election.Connection && ev.Kind != election.Disconnection {
			return ev
		}
	}
	return election.Event{}
}

// Two members of a group on one socket path: the first leads, the second follows, and a
// message goes from one to the other through the leader. In real use each member is a
// separate process with the same Address.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "group.sock")
	ctx := context.Background()

	a, err := election.New(election.Options{Address: path, ID: "a"})
	if err != nil {
		log.Fatal(err)
	}
	go a.Run(ctx)
	fmt.Println("a:", next(a))

	b, err := election.New(election.Options{Address: path, ID: "b"})
	if err != nil {
		log.Fatal(err)
	}
	go b.Run(ctx)
	fmt.Println("b:", next(b))

	// Send returns once the leader has taken the message for every member.
	if err := b.Send(ctx, []byte("hello from b")); err != nil {
		log.Fatal(err)
	}
	ev := next(a)
	fmt.Printf("a: %s: %q\n", ev, ev.Data)

	if err := a.Send(ctx, []byte("hello from a")); err != nil {
		log.Fatal(err)
	}
	ev = next(b)
	fmt.Printf("b: %s: %q\n", ev, ev.Data)

	// The leader leaves: b takes over with the next epoch.
	a.Close()
	fmt.Println("b:", next(b).Kind)
	fmt.Println("b:", next(b))
	b.Close()

	// Output:
	// a: leader epoch=1
	// b: follower of a epoch=1
	// a: message from b (12 bytes): "hello from b"
	// b: message from a (12 bytes): "hello from a"
	// b: lost
	// b: leader epoch=2
}

// New reports a problem with the address at once, naming the thing and the fix.
func ExampleNew() {
	_, err := election.New(election.Options{Address: "/nonexistent-dir/group.sock"})
	fmt.Println(err)
	// Output:
	// bad socket directory: directory /nonexistent-dir does not exist: create it first
}

// Run returns when its context is cancelled, and Events is closed then.
func ExampleElector_Run() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	e, err := election.New(election.Options{Address: filepath.Join(dir, "s")})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	for ev := range e.Events() {
		fmt.Println(ev.Kind)
		cancel()
	}
	fmt.Println("Run returned", <-done)
	// Output:
	// leader
	// Run returned <nil>
}

// Send fails with ErrNoLeader before the Elector leads or follows.
func ExampleElector_Send() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	e, err := election.New(election.Options{Address: filepath.Join(dir, "s")})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	fmt.Println(e.Send(context.Background(), []byte("too early")))
	// Output:
	// no leader
}
