package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Document is one parsed YAML config file, kept as a node tree so that every
// problem can name its line, and so that environment expansion works on
// values (never on the YAML structure, which a value with ": " would break).
type Document struct {
	File string
	// Root is the top-level mapping, or nil for an empty file.
	Root *yaml.Node

	// fromEnv marks the nodes whose value came (partly) from ${ENV}: errors
	// about them never echo the value.
	fromEnv map[*yaml.Node]bool
	// envValues are the expanded values, scrubbed from every message.
	envValues []string
	// onLine lists the nodes that start on each line, in document order,
	// to name the key of a decoder error that knows only its line (a
	// flow mapping puts many on one line).
	onLine map[int][]*notedNode
	// secretValues are the values of Secret keys, scrubbed from every
	// message.
	secretValues []string
}

// notedNode is a node with its key path and the Go type it decodes into
// (nil for a mapping key).
type notedNode struct {
	n      *yaml.Node
	path   string
	goType reflect.Type
	// blamed is set once a decoder error was put on it.
	blamed bool
}

// Parse reads YAML text, expands ${VAR} in scalar values through lookup
// (os.LookupEnv in production) and returns the document or every problem
// found: a syntax error, a non-mapping top level, unset variables.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Document, error) {
	d := &Document{File: file, fromEnv: map[*yaml.Node]bool{}, onLine: map[int][]*notedNode{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, d.Finish(Problems{syntaxProblem(err)})
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return d, nil // empty file: all defaults
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return d, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, d.Finish(Problems{{Line: root.Line, Msg: "the top level must be a mapping of sections (key: value)"}})
	}
	d.Root = root
	var ps Problems
	d.expand(root, "", lookup, &ps)
	return d, d.Finish(ps)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(err error) *Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Problem{Line: n, Msg: "invalid YAML: " + m[2]}
	}
	return &Problem{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// expand replaces ${VAR} in scalar values; "$${" stays a literal "${".
func (d *Document) expand(n *yaml.Node, path string, lookup func(string) (string, bool), ps *Problems) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.expand(n.Content[i+1], JoinPath(path, n.Content[i].Value), lookup, ps)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.expand(c, fmt.Sprintf("%s[%d]", path, i), lookup, ps)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		out, used, err := expandString(n.Value, lookup)
		if err != nil {
			*ps = append(*ps, &Problem{Line: n.Line, Path: path, Msg: err.Error()})
			return
		}
		if used != nil {
			d.fromEnv[n] = true
			d.envValues = append(d.envValues, used...)
			// An expanded value is data, never a YAML tag: "${PORT}" that
			// becomes "25" must still decode into an int, so re-resolve.
			n.Tag = ""
		}
		n.Value = out
	}
}

func expandString(s string, lookup func(string) (string, bool)) (string, []string, error) {
	var b strings.Builder
	var used []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), used, nil
		}
		if i > 0 && s[i-1] == '$' { // "$${" escapes
			b.WriteString(s[:i])
			b.WriteString("{")
			s = s[i+2:]
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", nil, errors.New(`unterminated "${" (write "$${" for a literal "${")`)
		}
		name := s[i+2 : i+j]
		if !validEnvName(name) {
			return "", nil, fmt.Errorf("invalid environment variable name %q in ${...}", name)
		}
		v, ok := lookup(name)
		if !ok {
			return "", nil, fmt.Errorf("environment variable %s is not set", name)
		}
		used = append(used, v)
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

// Decode decodes node (found at key path) into out strictly: every key the
// struct does not declare is a problem, and decoder type errors become
// problems naming the key. A nil node leaves out untouched (the defaults).
func (d *Document) Decode(node *yaml.Node, path string, out any) Problems {
	if node == nil {
		return nil
	}
	var ps Problems
	if big := largestMapping(node, 0); big > MaxMappingKeys {
		// yaml.v3 checks a mapping's keys for duplicates pairwise: time
		// quadratic in their number. A mapping this large is refused
		// before it is decoded.
		return Problems{{Line: node.Line, Path: path, Msg: fmt.Sprintf("a mapping here has %d keys, more than the %d a config may have in one", big, MaxMappingKeys)}}
	}
	d.checkKeys(node, reflect.TypeOf(out), path, &ps)
	if err := node.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				ps = append(ps, d.typeProblem(e))
			}
		} else {
			ps = append(ps, &Problem{Line: node.Line, Path: path, Msg: err.Error()})
		}
	}
	return ps
}

// MaxMappingKeys bounds the keys of one mapping in a config.
const MaxMappingKeys = 10_000

// largestMapping returns the most keys of any mapping in n's tree (aliases
// not followed: yaml.v3 refuses alias bombs itself).
func largestMapping(n *yaml.Node, depth int) int {
	if n == nil || depth > 100 {
		return 0
	}
	most := 0
	if n.Kind == yaml.MappingNode {
		most = len(n.Content) / 2
	}
	for _, c := range n.Content {
		most = max(most, largestMapping(c, depth+1))
	}
	return most
}

// isMerge says whether a mapping key is YAML's merge key (<<), whose value
// (a mapping, an alias of one, or a list of them) adds its keys to the
// mapping it is in.
func isMerge(k *yaml.Node) bool { return k.Tag == "!!merge" || k.Tag == "" && k.Value == "<<" }

// merged returns the mappings a merge key's value brings in.
func merged(v *yaml.Node) []*yaml.Node {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range v.Content {
			out = append(out, merged(c)...)
		}
		return out
	}
	return nil
}

var (
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	nodeType        = reflect.TypeOf(yaml.Node{})
	secretType      = reflect.TypeOf(Secret(""))
)

func (d *Document) note(n *yaml.Node, path string, t reflect.Type) {
	d.onLine[n.Line] = append(d.onLine[n.Line], &notedNode{n: n, path: path, goType: t})
	if t == secretType && n.Kind == yaml.ScalarNode && n.Value != "" {
		d.secretValues = append(d.secretValues, n.Value)
	}
}

func (d *Document) checkKeys(n *yaml.Node, t reflect.Type, path string, ps *Problems) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	d.note(n, path, t)
	if t == nodeType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		acceptAny := collectFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isMerge(k) {
				for _, m := range merged(v) {
					d.checkKeys(m, t, path, ps)
				}
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				if acceptAny {
					continue
				}
				*ps = append(*ps, &Problem{Line: k.Line, Path: JoinPath(path, k.Value), Msg: unknownKeyMsg(k.Value, fields)})
				continue
			}
			d.checkKeys(v, ft, JoinPath(path, k.Value), ps)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			d.checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if isMerge(n.Content[i]) {
				for _, m := range merged(n.Content[i+1]) {
					d.checkKeys(m, t, path, ps)
				}
				continue
			}
			d.note(n.Content[i], JoinPath(path, n.Content[i].Value), nil)
			d.checkKeys(n.Content[i+1], t.Elem(), JoinPath(path, n.Content[i].Value), ps)
		}
	}
}

// collectFields lists the YAML keys of a struct, following ",inline"; it
// reports whether an inline map accepts any other key.
func collectFields(t reflect.Type, into map[string]reflect.Type) (acceptAny bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				acceptAny = true
			} else if ft.Kind() == reflect.Struct {
				acceptAny = collectFields(ft, into) || acceptAny
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		into[name] = f.Type
	}
	return acceptAny
}

func unknownKeyMsg(key string, fields map[string]reflect.Type) string {
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	sort.Strings(known)
	return UnknownMsg("key", key, known)
}

// UnknownMsg says that name is not one of known, suggesting the closest.
func UnknownMsg(what, name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := editDistance(name, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown %s %q (did you mean %q?)", what, name, best)
	}
	if len(known) == 0 {
		return fmt.Sprintf("unknown %s %q", what, name)
	}
	return fmt.Sprintf("unknown %s %q (known: %s)", what, name, strings.Join(known, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var lineMsgRE = regexp.MustCompile(`^line (\d+): (.*)$`)

var typeErrRE = regexp.MustCompile("(?s)^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// typeProblem rewrites a yaml.v3 type error ("line 5: cannot unmarshal !!str
// `abc` into int") in the user's terms, with the key path and whole value.
func (d *Document) typeProblem(e string) *Problem {
	m := typeErrRE.FindStringSubmatch(e)
	if m == nil {
		p := &Problem{Msg: e}
		if lm := lineMsgRE.FindStringSubmatch(e); lm != nil {
			p.Line, _ = strconv.Atoi(lm[1])
			p.Msg = lm[2]
			if nn := d.blame(p.Line, "", "", ""); nn != nil {
				p.Path = nn.path
			}
		}
		return p
	}
	line, _ := strconv.Atoi(m[1])
	p := &Problem{Line: line}
	got := tagNames[m[2]]
	if got == "" {
		got = m[2]
	}
	if nn := d.blame(line, m[2], m[3], m[4]); nn != nil {
		p.Path = nn.path
		switch {
		case nn.n.Kind != yaml.ScalarNode:
		case d.fromEnv[nn.n]:
			got += " (from the environment)"
		case nn.goType == secretType || secretKeyName(nn.path):
			// A secret's value is never shown, even a wrong one.
		default:
			got += " " + strconv.Quote(nn.n.Value)
		}
	}
	p.Msg = fmt.Sprintf("want %s, got %s", wantName(m[4]), got)
	return p
}

// blame picks the node a decoder error on line is about: of the nodes
// starting there, the first not yet blamed whose tag, shown value and Go
// type match the error, then the first matching tag and type, then type
// alone, then the last. yaml.v3 says only the line, and a flow mapping
// ({address: [a], password: "..."}) puts many keys on one.
func (d *Document) blame(line int, tag, value, goType string) *notedNode {
	cands := d.onLine[line]
	if len(cands) == 0 {
		return nil
	}
	valueMatches := func(n *yaml.Node) bool {
		if short, ok := strings.CutSuffix(value, "..."); ok && len(value) == 10 {
			return strings.HasPrefix(n.Value, short)
		}
		return n.Value == value
	}
	tests := []func(nn *notedNode) bool{
		func(nn *notedNode) bool {
			return nn.goType != nil && nn.goType.String() == goType && nn.n.ShortTag() == "!!"+tag && valueMatches(nn.n)
		},
		func(nn *notedNode) bool {
			return nn.goType != nil && nn.goType.String() == goType && nn.n.ShortTag() == "!!"+tag
		},
		func(nn *notedNode) bool { return nn.goType != nil && nn.goType.String() == goType },
	}
	for _, ok := range tests {
		for _, nn := range cands {
			if !nn.blamed && ok(nn) {
				nn.blamed = true
				return nn
			}
		}
	}
	return cands[len(cands)-1]
}

// secretKeyName says whether a key path's last key names a secret, whose
// value no message may quote whatever its type.
func secretKeyName(path string) bool {
	leaf := strings.ToLower(path[strings.LastIndexAny(path, ".]")+1:])
	for _, s := range []string{"password", "passwd", "secret", "token", "key", "credential", "authorization"} {
		if strings.Contains(leaf, s) {
			return true
		}
	}
	return false
}

var tagNames = map[string]string{
	"str": "string", "int": "integer", "float": "number", "bool": "boolean",
	"seq": "a list", "map": "a mapping", "null": "nothing", "timestamp": "timestamp",
	"binary": "binary",
}

var durationName = reflect.TypeOf(time.Duration(0)).String()

func wantName(goType string) string {
	switch {
	case goType == durationName:
		return "a duration such as 30s, 5m or 1h"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string", strings.HasSuffix(goType, ".Secret"):
		return "a string"
	}
	return "a mapping"
}

// Finish fills in the file name and, for problems that have a key path but
// no line, the line of that key; it scrubs values that came from the
// environment out of every message. It returns nil when ps is empty.
func (d *Document) Finish(ps Problems) error {
	if len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		p.File = d.File
		if p.Line == 0 && p.Path != "" && d.Root != nil {
			p.Line = lineOf(d.Root, p.Path)
		}
		for _, vs := range [][]string{d.envValues, d.secretValues} {
			for _, v := range vs {
				if len(v) >= 4 {
					p.Msg = strings.ReplaceAll(p.Msg, v, redacted)
				}
			}
		}
	}
	// In file order; problems without a line (a missing required key in an
	// empty file) last.
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		return li != 0 && (lj == 0 || li < lj)
	})
	return ps
}

// lineOf finds the line of a key path such as "a.b[2].c" in a node tree.
// Keys may contain dots ("example.com"), so at each mapping the longest key
// that prefixes the rest of the path wins.
func lineOf(n *yaml.Node, path string) int {
	line := n.Line
	for path != "" {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch {
		case strings.HasPrefix(path, "["):
			end := strings.IndexByte(path, ']')
			if end < 0 || n.Kind != yaml.SequenceNode {
				return line
			}
			i, err := strconv.Atoi(path[1:end])
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			path = strings.TrimPrefix(path[end+1:], ".")
		case n.Kind == yaml.MappingNode:
			var next *yaml.Node
			bestLen := -1
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if len(k) > bestLen && (path == k || strings.HasPrefix(path, k+".") || strings.HasPrefix(path, k+"[")) {
					next, bestLen = n.Content[i+1], len(k)
					line = n.Content[i].Line
				}
			}
			if next == nil {
				return line
			}
			n = next
			path = strings.TrimPrefix(path[bestLen:], ".")
		default:
			return line
		}
	}
	return line
}

// NodeError is what a custom UnmarshalYAML returns for a bad value, so the
// decoder keeps going and the problem names its line and key.
func NodeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}

// Lookup returns the value node of key in a mapping node, or nil.
func Lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
