package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestFlowStyleBlamesTheRightKey: in a flow mapping every key is on one
// line, and yaml.v3 names only the line of a type error. Each wrong value,
// wherever it sits among the others, must be blamed on its own key, and
// the secret beside it never shown.
func TestFlowStyleBlamesTheRightKey(t *testing.T) {
	const secret = "hunter2-very-secret"
	valid := map[string]string{
		"zones":    "[a, b]",
		"interval": "30s",
		"port":     "25",
		"password": fmt.Sprintf("%q", secret),
	}
	wrong := map[string][]string{
		"zones":    {"{x: 1}", `"abc"`},
		"interval": {"[1]", `"5x"`, "{a: b}"},
		"port":     {"[1, 2]", `"abc"`, "{p: 1}"},
		"password": {"[a]", "{x: y}"},
	}
	order := []string{"zones", "interval", "port", "password"}
	checked := 0
	for key, bads := range wrong {
		for _, bad := range bads {
			for rot := range order { // the wrong key first, last, in between
				var parts []string
				for i := range order {
					k := order[(i+rot)%len(order)]
					v := valid[k]
					if k == key {
						v = bad
					}
					parts = append(parts, k+": "+v)
				}
				text := "inner: {" + strings.Join(parts, ", ") + "}\n"
				_, err := decode(t, text, nil)
				checked++
				if err == nil {
					t.Errorf("%s: no problem", text)
					continue
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "c.yml:1: inner."+key+": want ") || strings.Count(msg, "\n") != 0 {
					t.Errorf("%s: got %q, want one problem at inner.%s", text, msg, key)
				}
				if strings.Contains(msg, secret) || strings.Contains(msg, secret[:7]) {
					t.Errorf("%s: the message shows the secret: %q", text, msg)
				}
			}
		}
	}
	if checked != 40 {
		t.Errorf("checked %d layouts", checked)
	}
}

// TestSecretValuesNeverQuoted: a secret's value, right or wrong, never
// appears in a problem, even one about another key on its line.
func TestSecretValuesNeverQuoted(t *testing.T) {
	const secret = "s3cr3t-value-42"
	_, err := decode(t, "inner: {password: "+secret+", port: "+secret+"}\nlist: [{password: [x], port: 1}]\n", nil)
	if err == nil {
		t.Fatal("no problem")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr3t-") {
		t.Errorf("problem shows a secret value:\n%v", err)
	}
	if !strings.Contains(err.Error(), "inner.port: want an integer, got string") || !strings.Contains(err.Error(), "list[0].password: want a string, got a list") {
		t.Errorf("problems:\n%v", err)
	}
}
