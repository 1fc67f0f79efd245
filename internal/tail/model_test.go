package tail

import (
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
	"time"
)

// The model test drives random sequences of file operations and agent
// restarts against a real Follower (fake clock, step waker) and against a
// small model that knows which lines must arrive and which are lost by the
// documented rules; the two must agree exactly. It is the port of Vector's
// file_watcher quickcheck experiment, on testing/quick.

type modelOpKind int

const (
	opWrite modelOpKind = iota
	opPartial
	opStep
	opRename
	opCreate
	opDelete
	opCopyTruncate
	opStop
	opStart
	numModelOps
)

var modelOpNames = [...]string{"write", "partial", "step", "rename", "create", "delete", "copytruncate", "stop", "start"}

// modelOpWeights favour writes and polls; the rest are rarer events.
var modelOpWeights = [numModelOps]int{30, 8, 25, 6, 8, 4, 6, 4, 4}

type modelOp struct {
	Kind modelOpKind
	N    int // lines to write, or seconds to advance before a step
}

type modelOps []modelOp

func (ops modelOps) String() string {
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "%s(%d) ", modelOpNames[op.Kind], op.N)
	}
	return b.String()
}

// Generate implements quick.Generator.
func (modelOps) Generate(r *rand.Rand, size int) reflect.Value {
	total := 0
	for _, w := range modelOpWeights {
		total += w
	}
	ops := make(modelOps, 10+r.Intn(50))
	for i := range ops {
		pick := r.Intn(total)
		k := modelOpKind(0)
		for pick >= modelOpWeights[k] {
			pick -= modelOpWeights[k]
			k++
		}
		ops[i] = modelOp{Kind: k, N: r.Intn(5)}
	}
	return reflect.ValueOf(ops)
}

type genState int

const (
	genUnseen genState = iota // the follower has not opened it
	genOpen
	genCheckpointed // open when the agent stopped
	genClosed
)

// modelGen is one file generation (one inode).
type modelGen struct {
	name       string // its name on disk now
	atPath     bool
	state      genState
	orphaned   bool
	orphanedAt time.Time
	pending    []int // lines written but not yet read
	// readAny: the follower's read offset in this file is past 0, so it
	// knows a fingerprint and will notice a truncation.
	readAny bool
	// truncs counts truncations since the last poll; recovered holds the
	// lines of the first one, which the follower reads from its copy.
	truncs    int
	recovered []int
}

type model struct {
	t       *testing.T
	h       *harness
	gens    []*modelGen
	pathGen *modelGen // what app.log names, or nil
	wGen    *modelGen // what the writer's descriptor points to
	w       *os.File
	partial int // number of the line half written, or 0
	running bool
	now     time.Time
	lost    []int
	renames int
}

func TestModel(t *testing.T) {
	seed := int64(1)
	if s := os.Getenv("TAIL_MODEL_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	count := 150
	if testing.Short() {
		count = 30
	}
	i := 0
	prop := func(ops modelOps) bool {
		i++
		return t.Run(strconv.Itoa(i), func(t *testing.T) { runModel(t, ops) })
	}
	err := quick.Check(prop, &quick.Config{MaxCount: count, Rand: rand.New(rand.NewSource(seed))})
	if err != nil {
		t.Errorf("seed %d: %v", seed, err)
	}
}

func runModel(t *testing.T, ops modelOps) {
	t.Logf("ops: %s", ops)
	cfg := Config{
		Paths:              []string{"app.log"},
		StartAt:            Beginning,
		RotateWait:         5 * time.Second,
		PartialLineTimeout: -1,
		StateDir:           t.TempDir(),
		Name:               "model",
		Logger:             newTestLogger(discard{}),
	}
	h := newHarness(t, cfg)
	m := &model{t: t, h: h, now: h.clock.Now()}
	m.create()
	m.start()
	for _, op := range ops {
		m.apply(op)
	}
	if m.partial != 0 {
		m.write(0)
	}
	if !m.running {
		m.start()
	}
	m.stop()
	for _, g := range m.gens {
		m.lost = append(m.lost, g.pending...)
		m.lost = append(m.lost, g.recovered...)
	}
	checkSeq(t, h.delivered(), h.seq, m.lost)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (m *model) apply(op modelOp) {
	h := m.h
	if m.partial != 0 {
		switch op.Kind {
		case opWrite, opStep, opStop, opStart:
		default:
			return // keep a half-written line on the file that names the path
		}
	}
	switch op.Kind {
	case opWrite:
		m.write(op.N)
	case opPartial:
		if m.wGen == nil || m.wGen != m.pathGen {
			return
		}
		h.seq++
		m.partial = h.seq
		h.write(m.w, fmt.Sprintf("seq %06d ", m.partial))
	case opStep:
		if !m.running {
			return
		}
		d := time.Duration(op.N) * time.Second
		h.clock.Advance(d)
		m.now = m.now.Add(d)
		h.step()
		m.poll()
	case opRename:
		if m.pathGen == nil {
			return
		}
		m.renames++
		name := fmt.Sprintf("app.log.%d", m.renames)
		h.must(os.Rename(h.path("app.log"), h.path(name)))
		m.pathGen.name, m.pathGen.atPath, m.pathGen = name, false, nil
	case opDelete:
		if m.pathGen == nil {
			return
		}
		h.must(os.Remove(h.path("app.log")))
		m.pathGen.atPath, m.pathGen = false, nil
	case opCreate:
		m.create()
	case opCopyTruncate:
		if m.pathGen == nil {
			return
		}
		m.renames++
		copyFile(m.t, h.path("app.log"), h.path(fmt.Sprintf("app.log.%d", m.renames)))
		h.must(os.Truncate(h.path("app.log"), 0))
		// Written since the last read, now only in the copy. The follower
		// finds the copy of the first truncation since its last poll by
		// the fingerprint it knows; later copies start with bytes it never
		// saw, and a file it has read nothing of has no fingerprint.
		g := m.pathGen
		if g.state == genOpen && g.readAny && g.truncs == 0 {
			g.recovered = append(g.recovered, g.pending...)
		} else {
			m.lost = append(m.lost, g.pending...)
		}
		g.pending = nil
		g.truncs++
	case opStop:
		if m.running {
			m.stop()
		}
	case opStart:
		if !m.running {
			m.start()
		}
	}
}

// write appends n lines (after finishing a half-written one) to the file
// the writer has open.
func (m *model) write(n int) {
	if m.wGen == nil {
		return
	}
	var b strings.Builder
	var nums []int
	if m.partial != 0 {
		fmt.Fprintf(&b, "%s\n", strings.Repeat("p", m.partial%11))
		nums = append(nums, m.partial)
		m.partial = 0
	}
	for range n {
		m.h.seq++
		fmt.Fprintf(&b, "seq %06d %s\n", m.h.seq, strings.Repeat("m", m.h.seq%13))
		nums = append(nums, m.h.seq)
	}
	m.h.write(m.w, b.String())
	if m.wGen.state == genClosed {
		m.lost = append(m.lost, nums...)
		return
	}
	m.wGen.pending = append(m.wGen.pending, nums...)
}

// create is the writer reopening app.log (creating it if needed), as a
// daemon does on SIGHUP after logrotate.
func (m *model) create() {
	if m.w != nil {
		m.w.Close()
	}
	m.w = m.h.create("app.log")
	if m.pathGen == nil {
		m.pathGen = &modelGen{name: "app.log", atPath: true}
		m.gens = append(m.gens, m.pathGen)
	}
	m.wGen = m.pathGen
}

// poll mirrors Follower.poll: open what the path names, mark files that
// left it, read everything open, close files whose rotate_wait is over.
func (m *model) poll() {
	if g := m.pathGen; g != nil && g.state == genUnseen {
		g.state = genOpen
	}
	for _, g := range m.gens {
		if g.state != genOpen {
			continue
		}
		if !g.atPath && !g.orphaned {
			g.orphaned, g.orphanedAt = true, m.now
		}
		// Read: the recovered tail from the copy, then the file itself
		// (from 0 again if it was truncated).
		if g.truncs > 0 {
			g.readAny = false
		}
		g.readAny = g.readAny || len(g.pending) > 0 || (m.partial != 0 && g == m.wGen)
		g.pending, g.recovered, g.truncs = nil, nil, 0
		if g.orphaned && m.now.Sub(g.orphanedAt) >= 5*time.Second {
			g.state = genClosed
		}
	}
}

func (m *model) stop() {
	m.h.stop()
	m.running = false
	m.poll()
	for _, g := range m.gens {
		if g.state == genOpen {
			if g.atPath {
				g.state = genCheckpointed
			} else {
				g.state = genClosed
			}
		}
	}
}

func (m *model) start() {
	m.h.start()
	m.running = true
	for _, g := range m.gens {
		switch {
		case g.state == genCheckpointed && g.atPath:
			g.state = genOpen
		case g.state == genCheckpointed:
			// Rotated out of the path while down: the rest is lost.
			g.state = genClosed
			m.lost = append(m.lost, g.pending...)
			g.pending = nil
		}
	}
	m.poll()
}
