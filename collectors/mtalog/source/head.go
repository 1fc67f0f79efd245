package source

import (
	"bufio"
	"fmt"
)

// Head returns up to n lines from the start of the files, in order,
// plain or gzipped as Replay reads them: what a caller looks at to tell
// which MTA wrote them. A line is cut at 64 KiB.
func Head(paths []string, n int) ([][]byte, error) {
	var out [][]byte
	for _, p := range paths {
		if len(out) >= n {
			break
		}
		r, _, closeFn, err := openLog(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
		for len(out) < n && sc.Scan() {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
		err = sc.Err()
		closeFn()
		if err != nil && err != bufio.ErrTooLong {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return out, nil
}
