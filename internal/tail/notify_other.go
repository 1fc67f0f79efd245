//go:build !linux

package tail

import (
	"errors"
	"log/slog"
)

// notifier is a stub off Linux: the follower polls every PollInterval.
type notifier struct{}

func startNotifier(*slog.Logger, chan<- struct{}) (*notifier, error) {
	return nil, errors.New("change notifications are implemented for Linux only")
}

func (*notifier) watch(string) {}

func (*notifier) close() {}
