package configcenter

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/dubbomesh/dubbomesh/router"
)

// SetService returns the document text with one service's mode (and, in
// dual mode, meshWeight) set: services[name], or the default when name is
// "". The rest of the document (other keys, idempotent methods, comments)
// stays as written. An empty text starts from `default: {mode: legacy}`.
// The result is validated.
func SetService(text []byte, name string, mode router.Mode, weight int) ([]byte, error) {
	if !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return nil, fmt.Errorf("%w: %w: service name %q: want printable UTF-8", ErrInvalid, router.ErrInvalidConfig, name)
	}
	if len(bytes.TrimSpace(text)) == 0 {
		text = []byte("default: {mode: legacy}\n")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrInvalid, router.ErrInvalidConfig, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %w: the document is not a mapping", ErrInvalid, router.ErrInvalidConfig)
	}
	var svc *yaml.Node
	if name == "" {
		svc = child(doc.Content[0], "default")
	} else {
		svc = child(child(doc.Content[0], "services"), name)
	}
	set(svc, "mode", string(mode), "!!str")
	if mode == router.ModeDual {
		set(svc, "meshWeight", strconv.Itoa(weight), "!!int")
	} else {
		remove(svc, "meshWeight")
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrInvalid, router.ErrInvalidConfig, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrInvalid, router.ErrInvalidConfig, err)
	}
	if _, err := router.ParseConfig(bytes.NewReader(out.Bytes())); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return out.Bytes(), nil
}

// child returns the mapping under key of mapping m, adding an empty one
// when missing (or when the value is null).
func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if v.Kind != yaml.MappingNode {
				*v = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
			}
			return v
		}
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if key != "services" {
		v.Style = yaml.FlowStyle
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v
}

func set(m *yaml.Node, key, value, tag string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value})
}

func remove(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
