package agent

import "github.com/mailscope/mailscope/collectors"

// Bounds of the runs a collector's detail page keeps.
const (
	recentRuns     = 20 // the last runs, whatever their outcome
	recentFailures = 10 // the last failed runs, kept after they age out of the recent ones
)

// remember keeps r among the recent runs and, when it failed, among the
// recent failures. in.mu is held.
func (in *instance) remember(r collectors.RunResult) {
	in.recent = appendBounded(in.recent, r, recentRuns)
	if r.Err != nil {
		in.failures = appendBounded(in.failures, r, recentFailures)
	}
}

// appendBounded appends r, dropping the oldest beyond n.
func appendBounded(rs []collectors.RunResult, r collectors.RunResult, n int) []collectors.RunResult {
	if len(rs) >= n {
		copy(rs, rs[len(rs)-n+1:])
		rs = rs[:n-1]
	}
	return append(rs, r)
}

// recentRuns returns copies of the recent runs and failures, newest first.
func (in *instance) recentRuns() (recent, failures []collectors.RunResult) {
	in.mu.Lock()
	defer in.mu.Unlock()
	rev := func(rs []collectors.RunResult) []collectors.RunResult {
		out := make([]collectors.RunResult, len(rs))
		for i, r := range rs {
			out[len(rs)-1-i] = r
		}
		return out
	}
	return rev(in.recent), rev(in.failures)
}
