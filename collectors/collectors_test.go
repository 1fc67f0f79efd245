package collectors

import (
	"context"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/postconf"
)

type autoConfig struct{ Domain string }

func (*autoConfig) Validate() error { return nil }

func TestAutoOfKeepsNotOnThisHostNil(t *testing.T) {
	auto := AutoOf(func(f *postconf.Facts) *autoConfig {
		if f == nil || len(f.Domains) == 0 {
			return nil
		}
		return &autoConfig{Domain: f.Domains[0]}
	})
	if c := auto(&postconf.Facts{}); c != nil {
		t.Errorf("no domains: got %#v, want a nil Config (not an interface holding a nil pointer)", c)
	}
	c := auto(&postconf.Facts{Domains: []string{"example.com"}})
	if ac, ok := c.(*autoConfig); !ok || ac.Domain != "example.com" {
		t.Errorf("got %#v", c)
	}
}

func TestWaitJitter(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	s := Settings{Clock: clk}
	if !WaitJitter(context.Background(), s, 0) {
		t.Error("no jitter must not wait, and report ctx alive")
	}
	done := make(chan bool)
	go func() { done <- WaitJitter(context.Background(), s, time.Minute) }()
	clk.BlockUntil(1)
	clk.Advance(time.Minute)
	if !<-done {
		t.Error("WaitJitter returned false after the clock passed the jitter")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- WaitJitter(ctx, s, time.Hour) }()
	clk.BlockUntil(1)
	cancel()
	if <-done {
		t.Error("WaitJitter returned true after its context ended")
	}
}
