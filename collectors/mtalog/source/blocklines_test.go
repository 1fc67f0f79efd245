package source

import "io"

// eachLineInPlace is blockLines as a function calling back: fn for every
// line, release where the replay flushes its batch. The tests check
// blockLines through it against eachLine, the bufio reference, and check
// that a line still holds its bytes when release is called.
func eachLineInPlace(r io.Reader, max int, fn func(line []byte, oversize bool, n int, nul bool) error, release func() error) error {
	lines := newBlockLines(r, max)
	for {
		line, oversize, n, nul, ok := lines.next()
		if ok {
			if err := fn(line, oversize, n, nul); err != nil {
				return err
			}
			continue
		}
		more, err := lines.fill(release)
		if !more || err != nil {
			return err
		}
	}
}
