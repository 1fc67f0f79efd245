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

// TestMergeKeys: YAML merge keys (<<) bring a mapping's keys in, checked
// like the others, instead of being an unknown key.
func TestMergeKeys(t *testing.T) {
	out, err := decode(t, "defaults: &d {interval: 30s, port: 25}\ninner:\n  <<: *d\n  zones: [a]\nlist:\n  - <<: [*d]\n    port: 26\n", nil)
	if err == nil || strings.Contains(err.Error(), `"<<"`) || !strings.Contains(err.Error(), `defaults: unknown key`) {
		// "defaults" itself is not a key of outer: that is the only problem.
		t.Fatalf("problems: %v", err)
	}
	if out.Inner.Port != 25 || out.Inner.Interval.String() != "30s" || len(out.List) != 1 || out.List[0].Port != 26 || out.List[0].Interval.String() != "30s" {
		t.Errorf("merged values: %+v", out)
	}
	_, err = decode(t, "x: &x {colour: red}\ninner:\n  <<: *x\n", nil)
	if err == nil || !strings.Contains(err.Error(), `inner.colour: unknown key "colour"`) {
		t.Errorf("an unknown key brought in by a merge: %v", err)
	}
}

// TestHugeMappingRefused: a section with more keys than a config can
// need is refused before yaml.v3's pairwise duplicate check (quadratic).
func TestHugeMappingRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("flat:\n")
	for i := range MaxMappingKeys + 1 {
		fmt.Fprintf(&b, "  k%d: v\n", i)
	}
	_, err := decode(t, b.String(), nil)
	if err == nil || !strings.Contains(err.Error(), "has 10001 keys, more than the 10000") {
		t.Errorf("got %v", err)
	}
}
