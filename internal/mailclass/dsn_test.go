package mailclass

import "testing"

func TestFindDSN(t *testing.T) {
	for text, want := range map[string]DSN{
		"host a[192.0.2.1] said: 450 4.7.28 rate (in reply to RCPT TO command)": {Class: 4, Subject: 7, Detail: 28},
		"host a[192.0.2.1] said: 550 5.1.1: user unknown":                       {Class: 5, Subject: 1, Detail: 1},
		"said: 550 5.7.1; blocked":                                              {Class: 5, Subject: 7, Detail: 1},
		"connect to a[192.0.2.1]:25: Connection refused":                        {},
		"version 4.1 of the protocol 4.1000.1 and 3.1.1":                        {},
		"5.7.1x is not a code":                                                  {},
	} {
		if got := FindDSN([]byte(text)); got != want {
			t.Errorf("FindDSN(%q) = %+v, want %+v", text, got, want)
		}
	}
}

func TestParseDSN(t *testing.T) {
	for _, c := range []struct {
		in   string
		want DSN
		rest string
		ok   bool
	}{
		{"5.7.1 text", DSN{5, 7, 1}, " text", true},
		{"4.7.28", DSN{4, 7, 28}, "", true},
		{"2.0.0", DSN{2, 0, 0}, "", true},
		{"5.0007.1 x", DSN{5, 7, 1}, " x", true},
		{"3.1.1", DSN{}, "3.1.1", false},
		{"5.1000.1", DSN{}, "5.1000.1", false},
		{"5.7.", DSN{}, "5.7.", false},
		{"5.7", DSN{}, "5.7", false},
	} {
		d, rest, ok := ParseDSN([]byte(c.in))
		if d != c.want || string(rest) != c.rest || ok != c.ok {
			t.Errorf("ParseDSN(%q) = %+v, %q, %v; want %+v, %q, %v", c.in, d, rest, ok, c.want, c.rest, c.ok)
		}
	}
	if got := string(AppendDSN(nil, DSN{5, 7, 515})); got != "5.7.515" {
		t.Errorf("AppendDSN: %q", got)
	}
}
