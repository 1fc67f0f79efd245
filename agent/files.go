package agent

import (
	"crypto/sha256"
	"io"
	"os"
	"reflect"
	"strings"
	"syscall"

	"github.com/mailscope/mailscope/internal/config"
)

// maxDigestBytes bounds how much of a named file is read for its digest:
// secrets and CA bundles are small, and a path pointed at something huge
// must not stall a reload.
const maxDigestBytes = 4 << 20

// fileDigests returns a digest of each file a config names in a key whose
// name ends in _file (password_file, dqs_key_file, tls_ca_file, ...), by
// path. A config is plain data and does not hold what its files say; the
// digests let a reload restart the collector whose secret or CA file
// changed while its section stayed the same. A file that cannot be read
// has no digest (Validate has reported it).
func fileDigests(cfg any) map[string][sha256.Size]byte {
	out := map[string][sha256.Size]byte{}
	walkFileKeys(reflect.ValueOf(cfg), func(path string, _ bool) {
		if _, seen := out[path]; seen {
			return
		}
		if d, ok := digestFile(path); ok {
			out[path] = d
		}
	})
	return out
}

// walkFileKeys calls found with every non-empty string field of v tagged
// `yaml:"..._file"`, through structs, pointers, interfaces, slices and maps;
// secret says whether the key is a secret's file twin (password_file next
// to a config.Secret password), not a CA bundle's.
func walkFileKeys(v reflect.Value, found func(path string, secret bool)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkFileKeys(v.Elem(), found)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if strings.HasSuffix(name, "_file") && f.Type.Kind() == reflect.String {
				if p := v.Field(i).String(); p != "" {
					found(p, hasSecretField(t, strings.TrimSuffix(name, "_file")))
				}
				continue
			}
			walkFileKeys(v.Field(i), found)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkFileKeys(v.Index(i), found)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkFileKeys(it.Value(), found)
		}
	}
}

// hasSecretField says whether struct type t has a config.Secret field
// under the YAML key name.
func hasSecretField(t reflect.Type, name string) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		if key, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); key == name {
			return f.Type == reflect.TypeOf(config.Secret(""))
		}
	}
	return false
}

func digestFile(path string) ([sha256.Size]byte, bool) {
	var d [sha256.Size]byte
	// Without blocking, and only a regular file: a FIFO named here must
	// not hang the load (Validate reports what the file is).
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return d, false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return d, false
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxDigestBytes)); err != nil {
		return d, false
	}
	copy(d[:], h.Sum(nil))
	return d, true
}
