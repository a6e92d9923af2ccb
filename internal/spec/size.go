package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Bounds on the size of an app definition. A YAML alias is one small
// token in the file but a full copy of its anchor once compose-go
// interpolates and normalises the model: a 117 KB file that aliases one
// 100 KB string a thousand times passes the YAML library's alias check and
// expands to 100 MB. Load measures the expanded size on the parsed YAML
// (counting every alias at the size of what it stands for, without
// expanding it) before compose-go sees the file; Validate bounds the
// normalised definition again, for apps sent as JSON.
const (
	// MaxDefinitionBytes bounds a Compose file as read, its expanded
	// size, and the JSON of the normalised definition.
	MaxDefinitionBytes = 4 << 20
	// MaxValueBytes bounds one value (a string: an environment variable,
	// a command, a config's content, an error page).
	MaxValueBytes = 512 << 10
)

// sizeLimitHint is what a refusal tells the user to do.
const sizeLimitHint = "keep large content in the image, a volume or a bind-mounted file, not in the Compose file"

// checkFileSize refuses a Compose file larger than MaxDefinitionBytes
// before it is read.
func checkFileSize(name string, size int64) *Error {
	if size <= MaxDefinitionBytes {
		return nil
	}
	return &Error{File: name, Msg: fmt.Sprintf("the file is %s, more than berth's limit of %s for a Compose file; %s",
		sizeText(size), sizeText(MaxDefinitionBytes), sizeLimitHint)}
}

// sizeMeter measures parsed YAML documents as compose-go would expand
// them: every scalar's length, every alias counted at the size of its
// anchor, the total over all the files of an app. It keeps the first
// bound crossed: a scalar longer than MaxValueBytes, or a total beyond
// MaxDefinitionBytes, naming the key it was found at. Each node is walked
// once (aliases reuse the anchor's measured size), so the check costs the
// size of the file, not of its expansion.
type sizeMeter struct {
	file  string
	sizes map[*yaml.Node]int64 // nodes measured, for aliases
	total int64
	err   *Error
}

func newSizeMeter() *sizeMeter { return &sizeMeter{sizes: map[*yaml.Node]int64{}} }

// document measures one YAML document of file.
func (m *sizeMeter) document(file string, root *yaml.Node) *Error {
	m.file = file
	m.walk(root, nil)
	return m.err
}

// walk returns the expanded size of n at path and adds it to the total.
func (m *sizeMeter) walk(n *yaml.Node, path []string) int64 {
	if n == nil || m.err != nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
		if n == nil {
			return 0
		}
	}
	if s, ok := m.sizes[n]; ok { // an alias of a node measured before
		m.add(s, path)
		return s
	}
	var size int64
	switch n.Kind {
	case yaml.ScalarNode:
		size = int64(len(n.Value))
		if size > MaxValueBytes {
			m.fail(path, fmt.Sprintf("a value of %s, more than berth's limit of %s for one value; %s",
				sizeText(size), sizeText(MaxValueBytes), sizeLimitHint))
			return size
		}
		m.add(size, path)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if key.Kind == yaml.AliasNode && key.Alias != nil {
				key = key.Alias
			}
			p := append(path[:len(path):len(path)], key.Value)
			size += m.walk(n.Content[i], p)
			size += m.walk(n.Content[i+1], p)
		}
	default: // documents, sequences
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = append(path[:len(path):len(path)], "["+strconv.Itoa(i)+"]")
			}
			size += m.walk(c, p)
		}
	}
	m.sizes[n] = size
	return size
}

func (m *sizeMeter) add(n int64, path []string) {
	if m.err != nil {
		return
	}
	m.total += n
	if m.total > MaxDefinitionBytes {
		m.fail(path, fmt.Sprintf("with this key the file expands beyond berth's limit of %s for a Compose file (each YAML alias counts as a full copy of its anchor); %s",
			sizeText(MaxDefinitionBytes), sizeLimitHint))
	}
}

func (m *sizeMeter) fail(path []string, msg string) {
	if m.err == nil {
		m.err = sizeError(m.file, path, msg)
	}
}

// sizeError names the key at path: the service and the field inside it
// for services.NAME..., the dotted path otherwise.
func sizeError(file string, path []string, msg string) *Error {
	e := &Error{File: file, Msg: msg}
	if len(path) >= 2 && path[0] == "services" {
		e.Service = path[1]
		path = path[2:]
	}
	e.Field = joinPath(path)
	return e
}

func joinPath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// sizeText formats a byte count for a limit message.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// validateSize bounds a normalised definition (sent as JSON, or loaded):
// its JSON form at most MaxDefinitionBytes, each string at most
// MaxValueBytes.
func validateSize(c *collector, a *App) {
	var long func(v reflect.Value, path []string) bool
	long = func(v reflect.Value, path []string) bool {
		switch v.Kind() {
		case reflect.String:
			if n := int64(v.Len()); n > MaxValueBytes {
				e := sizeError("", path, fmt.Sprintf("a value of %s, more than berth's limit of %s for one value; %s", sizeText(n), sizeText(MaxValueBytes), sizeLimitHint))
				c.add(e.Service, e.Field, e.Msg)
				return true
			}
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				return long(v.Elem(), path)
			}
		case reflect.Struct:
			t := v.Type()
			for i := range t.NumField() {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if long(v.Field(i), append(path[:len(path):len(path)], name)) {
					return true
				}
			}
		case reflect.Slice, reflect.Array:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				return false // []byte: not a value of the file
			}
			for i := range v.Len() {
				if long(v.Index(i), append(path[:len(path):len(path)], "["+strconv.Itoa(i)+"]")) {
					return true
				}
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				if long(it.Value(), append(path[:len(path):len(path)], fmt.Sprint(it.Key().Interface()))) {
					return true
				}
			}
		}
		return false
	}
	// The services' paths read services.NAME, as in the file.
	for _, s := range a.Services {
		if long(reflect.ValueOf(s), []string{"services", s.Name}) {
			return
		}
	}
	rest := *a
	rest.Services = nil
	if long(reflect.ValueOf(rest), nil) {
		return
	}
	data, err := json.Marshal(a)
	if err == nil && int64(len(data)) > MaxDefinitionBytes {
		c.add("", "", fmt.Sprintf("the app definition is %s, more than berth's limit of %s; %s", sizeText(int64(len(data))), sizeText(MaxDefinitionBytes), sizeLimitHint))
	}
}

// readBounded reads a Compose file, refusing one larger than
// MaxDefinitionBytes (as an *Error) before reading it.
func readBounded(name, abs string) ([]byte, error) {
	fh, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil {
		if e := checkFileSize(name, st.Size()); e != nil {
			return nil, e
		}
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxDefinitionBytes+1))
	if err != nil {
		return nil, err
	}
	if e := checkFileSize(name, int64(len(data))); e != nil { // a pipe or a growing file
		return nil, e
	}
	return data, nil
}

// parseBounded parses f's YAML documents into nodes (aliases unexpanded),
// measures them with meter, and decodes the first into f.doc. A syntax
// error is left for compose-go to report.
func parseBounded(meter *sizeMeter, f *sourceFile) *Error {
	dec := yaml.NewDecoder(bytes.NewReader(f.content))
	for i := 0; ; i++ {
		var root yaml.Node
		if err := dec.Decode(&root); err != nil {
			return nil // io.EOF, or a syntax error compose-go reports
		}
		if err := meter.document(f.name, &root); err != nil {
			return err
		}
		if i == 0 {
			_ = root.Decode(&f.doc)
		}
	}
}
