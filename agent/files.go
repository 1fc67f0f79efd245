package agent

import (
	"crypto/sha256"
	"io"
	"os"
	"reflect"
	"strings"
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
	walkFileKeys(reflect.ValueOf(cfg), func(path string) {
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
// `yaml:"..._file"`, through structs, pointers, interfaces, slices and maps.
func walkFileKeys(v reflect.Value, found func(path string)) {
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
					found(p)
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

func digestFile(path string) ([sha256.Size]byte, bool) {
	var d [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return d, false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxDigestBytes)); err != nil {
		return d, false
	}
	copy(d[:], h.Sum(nil))
	return d, true
}
