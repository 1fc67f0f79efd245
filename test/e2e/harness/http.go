package harness

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/promqlref"
	"github.com/mailscope/mailscope/internal/testwait"
)

var (
	scrapedMu sync.Mutex
	scraped   = map[string]bool{}
)

// Fetch GETs url with a 30 s timeout and returns the body. A /metrics body
// is also remembered (Scraped), so one test can check that every metric the
// dashboards and alerts use was exported somewhere in the run.
func Fetch(url string) (string, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	body := string(b)
	if resp.StatusCode == http.StatusOK && strings.Contains(url, "/metrics") {
		scrapedMu.Lock()
		for n := range promqlref.ScrapedNames(body) {
			scraped[n] = true
		}
		scrapedMu.Unlock()
	}
	return body, nil
}

// Get is Fetch that fails the test on error.
func Get(t testing.TB, url string) string {
	t.Helper()
	body, err := Fetch(url)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// WantMetrics waits until a scrape of url contains every line.
func WantMetrics(t testing.TB, url string, timeout time.Duration, lines ...string) {
	t.Helper()
	testwait.For(t, timeout, "metrics", func() error {
		body, err := Fetch(url)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if !strings.Contains(body, l) {
				return fmt.Errorf("no %s", l)
			}
		}
		return nil
	})
}

// Scraped returns the metric names seen in every /metrics scrape so far.
func Scraped() map[string]bool {
	scrapedMu.Lock()
	defer scrapedMu.Unlock()
	out := make(map[string]bool, len(scraped))
	for k := range scraped {
		out[k] = true
	}
	return out
}
