package router

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ParseConfig reads a routing document (the adapter's routing file and
// config-center key, the console's edits) strictly and validates it:
//
//	default: {mode: dual, meshWeight: 70, idempotent: [Get]}
//	services:
//	  org.example.Greeter: {mode: mesh}
//	breaker: {window: 10s, failureRatio: 0.5, minRequests: 20, cooldown: 5s}
//
// Every error wraps ErrInvalidConfig and names the bad key by its path and
// line, e.g. `line 3: services[org.example.Greeter].meshWieght: unknown key
// (want mode, meshWeight, idempotent)`. An empty document is an error: it
// would route nothing.
func ParseConfig(r io.Reader) (Config, error) {
	var c Config
	data, err := io.ReadAll(r)
	if err != nil {
		return c, fmt.Errorf("%w: read: %w", ErrInvalidConfig, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return c, fmt.Errorf("%w: empty document: want at least a default: {mode: ...}", ErrInvalidConfig)
	}
	if err := checkKeys(doc.Content[0], reflect.TypeFor[Config](), ""); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

var durationType = reflect.TypeFor[time.Duration]()

// checkKeys walks n against t and reports the first key t has no field
// for, or a value of the wrong shape, by its path: before decoding, so the
// message names the key in the document's words instead of Go's types.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	where := path
	if where == "" {
		where = "document"
	}
	switch {
	case t == durationType:
		return nil // the decoder reports a bad duration with its line
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: want a mapping of %s", n.Line, where, strings.Join(keysOf(t), ", "))
		}
		fields := fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("line %d: %s: unknown key (want %s)", k.Line, join(path, k.Value), strings.Join(keysOf(t), ", "))
			}
			if err := checkKeys(v, ft, join(path, k.Value)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: want a mapping", n.Line, where)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), path+"["+n.Content[i].Value+"]"); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: %s: want a list", n.Line, where)
		}
		for i, e := range n.Content {
			if err := checkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: want a single value", n.Line, where)
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldsOf maps each yaml key of struct t (inline fields flattened) to its
// type.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if opts == "inline" {
			for k, v := range fieldsOf(sf.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out[name] = sf.Type
	}
	return out
}

// keysOf lists t's yaml keys in field order.
func keysOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		switch {
		case !sf.IsExported() || name == "-":
		case opts == "inline":
			out = append(out, keysOf(sf.Type)...)
		case name == "":
			out = append(out, strings.ToLower(sf.Name))
		default:
			out = append(out, name)
		}
	}
	return slices.Clip(out)
}
