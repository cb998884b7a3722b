// Command chat is a chat room over the election library, in the spirit of
// unix-socket-leader's example: run it in several terminals with the same socket path, type
// lines, and every other terminal prints them. Kill the leader (Ctrl-C, or kill -9): the
// others elect a new one and keep chatting.
//
//	go run ./examples/chat /tmp/chat.sock
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/splitbrain-dev/splitbrain/election"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chat SOCKET_PATH")
		os.Exit(2)
	}
	e, err := election.New(election.Options{Address: os.Args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := e.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "chat:", err)
			os.Exit(1)
		}
	}()
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			// Send returns once the leader has queued the line for everyone; a Disconnection
			// event on the leader reports what it could not write before it stopped.
			if err := e.Send(ctx, in.Bytes()); err != nil {
				fmt.Printf("!! not sent: %v\n", err)
			}
		}
	}()
	for ev := range e.Events() {
		switch ev.Kind {
		case election.Leader:
			fmt.Printf("!! I am the leader now (pid %d, epoch %d)\n", os.Getpid(), ev.Epoch)
		case election.Follower:
			fmt.Printf("!! connected to %s (epoch %d)\n", ev.Leader, ev.Epoch)
		case election.Connection:
			fmt.Printf("!! %s joined\n", ev.Member)
		case election.Disconnection:
			fmt.Printf("!! %s left\n", ev.Member)
		case election.Lost:
			fmt.Printf("!! lost the leader (%v); electing again\n", ev.Err)
		case election.Retry:
			fmt.Printf("!! election attempt %d failed (%v); trying again\n", ev.Attempt, ev.Err)
		case election.Message:
			fmt.Printf("%s> %s\n", ev.Member, ev.Data)
		}
	}
	e.Close()
}
