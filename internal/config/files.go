package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// FileError is the cause of a failed file operation without the path an
// *os.PathError adds ("no such file or directory"), for a message that
// names the file already.
func FileError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CABundle is a ca_file's PEM, checked to hold certificates. A config
// keeps the bytes rather than an *x509.CertPool because the agent's
// reload compares configs with reflect.DeepEqual, and two pools made from
// one file are never DeepEqual: a config holding a pool would look
// changed, and its collector restart, on every reload.
type CABundle []byte

// LoadCAFile reads a ca_file. Its errors name the file and what is wrong
// with it.
func LoadCAFile(path string) (CABundle, error) {
	b, err := ReadRegularFile("", path, MaxCAFileSize)
	if err != nil {
		return nil, err
	}
	if x509.NewCertPool().AppendCertsFromPEM(b) {
		return CABundle(b), nil
	}
	return nil, fmt.Errorf("%s holds no PEM certificate", path)
}

// Pool is the bundle's certificates as a pool; nil for no bundle (the
// system's roots).
func (b CABundle) Pool() *x509.CertPool {
	if len(b) == 0 {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	return pool
}
