package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestLoadCAFile: a PEM certificate loads, and two loads of one file
// compare equal (a config holding the bundle does not look changed on
// reload); a missing file and a file without a certificate are errors
// that name the file and the problem.
func TestLoadCAFile(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, junk := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "junk.pem")
	if err := writeFile(good, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(junk, "not a certificate\n"); err != nil {
		t.Fatal(err)
	}
	a, err := LoadCAFile(good)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := LoadCAFile(good)
	if !reflect.DeepEqual(a, b) {
		t.Error("two loads of one ca_file are not DeepEqual")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: a.Pool()}); err != nil {
		t.Errorf("the CA does not verify against its own bundle's pool: %v", err)
	}
	if CABundle(nil).Pool() != nil {
		t.Error("an empty bundle has a pool; want nil (the system's roots)")
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "missing.pem"): "cannot read " + filepath.Join(dir, "missing.pem") + ": no such file or directory",
		junk:                              junk + " holds no PEM certificate",
	} {
		if _, err := LoadCAFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadCAFile(%s) = %v, want %q", path, err, want)
		}
	}
}
