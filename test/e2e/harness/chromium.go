package harness

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Chromium is a headless Chromium (Debian package chromium) driven over
// the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
// ended by a NUL byte on file descriptors 3 and 4), so tests check the
// page as rendered (DOM after scripts, computed colours, console errors,
// screenshots) without a websocket client or an extra Go module.
type Chromium struct {
	t       testing.TB
	proc    *Process
	in      *os.File
	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMessage
	events  []cdpMessage
	eventCh chan struct{}
	session string
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// cdpTimeout bounds each command and each wait.
const cdpTimeout = 30 * time.Second

// maxCDPMessage bounds one message from the browser (screenshots are the
// largest).
const maxCDPMessage = 64 << 20

// StartChromium starts a headless Chromium with a fresh profile, opens a
// blank page of width x height CSS pixels and attaches to it.
func StartChromium(t testing.TB, width, height int) *Chromium {
	t.Helper()
	bin := RequireBinary(t, "chromium", "chromium")
	dir := Dir(t)
	toBrowser, browserIn, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	browserOut, fromBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// No name resolves but localhost and no proxy is looked for: the
	// pages are on 127.0.0.1, and Chromium's network service otherwise
	// asks the host's resolver for names of its own even with background
	// networking off (seen with strace in the e2e suite).
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1", "--no-proxy-server", "--disable-domain-reliability", "--no-pings",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps", "--mute-audio",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--remote-debugging-pipe", "about:blank")
	// fd 3: the browser reads commands; fd 4: it writes replies.
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser}
	c := &Chromium{t: t, in: browserIn, pending: map[int]chan cdpMessage{}, eventCh: make(chan struct{}, 1)}
	c.proc = Start(t, "chromium", cmd)
	toBrowser.Close()
	fromBrowser.Close()
	t.Cleanup(func() { browserIn.Close(); browserOut.Close() })
	go c.read(browserOut)

	var target struct {
		TargetID string `json:"targetId"`
	}
	c.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	c.session = attached.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		c.Call(m, nil, nil)
	}
	c.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}, nil)
	return c
}

func (c *Chromium) read(r *os.File) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadSlice(0)
		var buf []byte
		for err == bufio.ErrBufferFull && len(buf) < maxCDPMessage {
			buf = append(buf, raw...)
			raw, err = br.ReadSlice(0)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
		buf = append(buf, raw...)
		var m cdpMessage
		if json.Unmarshal(buf[:len(buf)-1], &m) != nil {
			continue
		}
		c.mu.Lock()
		if ch, ok := c.pending[m.ID]; ok && m.ID != 0 {
			delete(c.pending, m.ID)
			c.mu.Unlock()
			ch <- m
			continue
		}
		if m.Method != "" {
			c.events = append(c.events, m)
			select {
			case c.eventCh <- struct{}{}:
			default:
			}
		}
		c.mu.Unlock()
	}
}

// Call sends a command to the attached page and decodes its result into
// out (when not nil); an error reply fails the test.
func (c *Chromium) Call(method string, params any, out any) {
	c.t.Helper()
	c.call(c.session, method, params, out)
}

func (c *Chromium) call(session, method string, params any, out any) {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpMessage, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.in.Write(append(b, 0)); err != nil {
		c.t.Fatalf("chromium %s: %v\n%s", method, err, c.proc.Output())
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			c.t.Fatalf("chromium %s: %d %s", method, m.Error.Code, m.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				c.t.Fatalf("chromium %s: %v", method, err)
			}
		}
	case <-time.After(cdpTimeout):
		c.t.Fatalf("chromium %s: no answer in %s\n%s", method, cdpTimeout, c.proc.Output())
	}
}

// waitEvent waits for an event of the page named method after the index
// from, returning the index after it.
func (c *Chromium) waitEvent(method string, from int) int {
	c.t.Helper()
	deadline := time.After(cdpTimeout)
	for {
		c.mu.Lock()
		for i := from; i < len(c.events); i++ {
			if c.events[i].Method == method {
				c.mu.Unlock()
				return i + 1
			}
		}
		c.mu.Unlock()
		select {
		case <-c.eventCh:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			c.t.Fatalf("chromium: no %s in %s", method, cdpTimeout)
		}
	}
}

// SetColorScheme emulates prefers-color-scheme ("light" or "dark").
func (c *Chromium) SetColorScheme(scheme string) {
	c.t.Helper()
	c.Call("Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{{"name": "prefers-color-scheme", "value": scheme}}}, nil)
}

// Navigate loads url and waits for its load event.
func (c *Chromium) Navigate(url string) {
	c.t.Helper()
	c.mu.Lock()
	from := len(c.events)
	c.mu.Unlock()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	c.Call("Page.navigate", map[string]any{"url": url}, &res)
	if res.ErrorText != "" {
		c.t.Fatalf("chromium: navigate %s: %s", url, res.ErrorText)
	}
	c.waitEvent("Page.loadEventFired", from)
}

// Eval evaluates a JavaScript expression in the page (awaiting a
// promise) and decodes its JSON value into out.
func (c *Chromium) Eval(expression string, out any) {
	c.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	c.Call("Runtime.evaluate", map[string]any{"expression": expression, "returnByValue": true, "awaitPromise": true}, &res)
	if res.ExceptionDetails != nil {
		c.t.Fatalf("chromium: evaluate: %s", res.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		c.t.Fatalf("chromium: evaluate: %v (value %s)", err, res.Result.Value)
	}
}

// Screenshot writes a PNG of the whole page to path.
func (c *Chromium) Screenshot(path string) {
	c.t.Helper()
	var res struct {
		Data string `json:"data"`
	}
	c.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &res)
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// ConsoleErrors returns the page's uncaught exceptions, console.error
// calls and error log entries (failed loads, blocked requests) so far.
func (c *Chromium) ConsoleErrors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.events {
		switch e.Method {
		case "Runtime.exceptionThrown":
			out = append(out, "exception: "+string(e.Params))
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(e.Params, &p) == nil && p.Type == "error" {
				out = append(out, "console.error: "+string(e.Params))
			}
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Text, URL string
				} `json:"entry"`
			}
			if json.Unmarshal(e.Params, &p) == nil && p.Entry.Level == "error" {
				out = append(out, fmt.Sprintf("log: %s %s", p.Entry.Text, p.Entry.URL))
			}
		}
	}
	return out
}

// ArtifactDir is where tests keep files for people to look at
// (screenshots): $MAILSCOPE_E2E_ARTIFACTS, else test/e2e/artifacts in the
// module (git-ignored).
func ArtifactDir(t testing.TB) string {
	if d := os.Getenv("MAILSCOPE_E2E_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(ModuleRoot(t), "test", "e2e", "artifacts")
}
