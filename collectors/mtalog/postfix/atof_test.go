package postfix

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
)

// mantissaRE and exponentRE are the number atof reads: digits with an
// optional fraction (at least one digit in all), then an optional
// exponent, taken only when it is below 300.
var (
	mantissaRE = regexp.MustCompile(`^[0-9]*(\.[0-9]*)?`)
	exponentRE = regexp.MustCompile(`^[eE][+-]?([0-9]+)`)
)

// referenceAtof is atof by regular expressions and strconv.ParseFloat,
// which rounds correctly.
func referenceAtof(s []byte) (float64, []byte, bool) {
	n := len(mantissaRE.Find(s))
	ok := false
	for _, c := range s[:n] {
		ok = ok || c != '.'
	}
	if !ok {
		return 0, s[n:], false
	}
	if m := exponentRE.FindSubmatch(s[n:]); m != nil {
		if e, err := strconv.Atoi(string(m[1])); err == nil && e < 300 {
			n += len(m[0])
		}
	}
	f, err := strconv.ParseFloat(string(s[:n]), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		panic(fmt.Sprintf("%q: %v", s[:n], err))
	}
	return f, s[n:], true
}

// TestAtofMatchesParseFloat checks atof (and atofLong, which it hands
// numbers of more than 15 digits and numbers with an exponent) against
// the reference on Postfix's delay formats, the 15/16-digit boundary and
// 200,000 random numbers: the same value to the bit, the same rest.
func TestAtofMatchesParseFloat(t *testing.T) {
	inputs := []string{
		"0", "0.01", "0.5", ".5", "12", "12.", ".", "", "x", "0.0", "00012.50", "1.2e+02", "1e+02", "1e-05", "3.3e-01/0",
		"1e", "1e+", "1ex", "1e300", "1e299", "1.5E2 ", "999999999999999", "999999999999999.9", "123456789012345",
		"1234567890123456", "0.000000000000001", "0.0000000000000001", "9007199254740993", "0.1000000000000000055511151231257827",
		"2.2250738585072011e-308", "179769313486231570000000000000000000", "4.35/0.01/0.06/4.3, dsn=2.0.0",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	for range 200_000 {
		s := digits(rng.IntN(12))
		if rng.IntN(4) > 0 {
			s += "." + digits(rng.IntN(12))
		}
		if rng.IntN(5) == 0 {
			s += []string{"e", "E", "e+", "e-"}[rng.IntN(4)] + digits(1+rng.IntN(3))
		}
		inputs = append(inputs, s+[]string{"", " ", "/", ", ", "s"}[rng.IntN(5)])
	}
	for _, in := range inputs {
		f, rest, ok := atof([]byte(in))
		wf, wrest, wok := referenceAtof([]byte(in))
		if ok != wok || string(rest) != string(wrest) || math.Float64bits(f) != math.Float64bits(wf) {
			t.Fatalf("atof(%q) = %v (%b), %q, %v; want %v (%b), %q, %v", in, f, math.Float64bits(f), rest, ok, wf, math.Float64bits(wf), wrest, wok)
		}
	}
}

// TestAtofAllocatesNothing: not on the one-integer path, and not for the
// short exponent forms Postfix prints either.
func TestAtofAllocatesNothing(t *testing.T) {
	for _, in := range []string{"0.01", "1.2e+02", "12345678901234567.5"} {
		b := []byte(in)
		if n := testing.AllocsPerRun(100, func() { atof(b) }); n != 0 {
			t.Errorf("atof(%q) allocates %v times", in, n)
		}
	}
}
