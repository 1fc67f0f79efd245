package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/mailscope/mailscope/internal/atomicfile"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// StateFile is where, in the collector's state directory, a graceful stop
// leaves the correlator's open messages for the next start.
const StateFile = "correlator.state"

// maxStateFile bounds the state file read at start: the default table
// (100,000 messages) saves in well under this.
const maxStateFile = 1 << 30

// RestoreState loads the open messages a graceful stop saved in dir (see
// correlate.Correlator.Load for the checks) and removes the file, so a
// crash after this start cannot bring back what this run has since
// completed. No file is no error. The pipeline's Close saves to dir.
func (p *Pipeline) RestoreState(dir string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stateDir = dir
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, StateFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("correlator state: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxStateFile {
		return fmt.Errorf("correlator state %s: %d bytes, more than the %d a table holds; not read", path, fi.Size(), maxStateFile)
	}
	names := p.providers.Names()
	valid := func(s string) bool { return s == "" || s == mailclass.ProviderLocal || slices.Contains(names, s) }
	st, err := p.corr.Load(f, valid)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	p.logger.Info("Restored the messages held at the last stop", "path", path, "restored", st.Restored, "invalid", st.Invalid, "dropped", st.Dropped)
	if st.Invalid > 0 {
		p.logger.Warn("Skipped invalid records of the correlator state", "path", path, "invalid", st.Invalid, "problems", st.Problems)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("correlator state: %w", err)
	}
	return nil
}

// Close saves the correlator's open messages to the directory RestoreState
// was given (nothing without one). The collector calls it once every
// source has stopped and saved its position, so the two agree.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stateDir == "" || p.corr.Len() == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := p.corr.Save(&buf); err != nil {
		return err
	}
	if err := os.MkdirAll(p.stateDir, 0o750); err != nil {
		return fmt.Errorf("correlator state: %w", err)
	}
	path := filepath.Join(p.stateDir, StateFile)
	if err := atomicfile.Write(path, buf.Bytes()); err != nil {
		return fmt.Errorf("correlator state: %w", err)
	}
	p.logger.Info("Saved the messages still held for the next start", "path", path, "messages", p.corr.Len())
	return nil
}
