package event

import "testing"

// TestLookupDaemonEveryName checks the fast path and the table agree: every
// daemon name maps to its own Daemon, and near misses of the fast-path
// names are not taken for them.
func TestLookupDaemonEveryName(t *testing.T) {
	for i, name := range daemonNames {
		d, ok := LookupDaemon([]byte(name))
		if i == 0 {
			if ok || d != DaemonOther {
				t.Errorf("LookupDaemon(%q) = %v, %v; want other, false", name, d, ok)
			}
			continue
		}
		if !ok || d != Daemon(i) {
			t.Errorf("LookupDaemon(%q) = %v, %v; want %v, true", name, d, ok, Daemon(i))
		}
	}
	if d, ok := LookupDaemon([]byte("nqmgr")); !ok || d != DaemonQmgr {
		t.Errorf("LookupDaemon(nqmgr) = %v, %v", d, ok)
	}
	for _, name := range []string{"", "s", "smtq", "smtpx", "qmgx", "cleanuq", "bouncy", "Smtp"} {
		if d, ok := LookupDaemon([]byte(name)); ok || d != DaemonOther {
			t.Errorf("LookupDaemon(%q) = %v, %v; want other, false", name, d, ok)
		}
	}
}
