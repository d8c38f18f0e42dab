package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// EnvPrefix starts every environment variable ApplyEnv reads.
const EnvPrefix = "DUBBOMESH_"

// EnvName is the environment variable of a key path, e.g. "xds.tls.clientCA"
// → DUBBOMESH_XDS_TLS_CLIENT_CA: each key in upper snake case, joined by
// '_'.
func EnvName(path string) string {
	var b strings.Builder
	b.WriteString(EnvPrefix)
	for i, key := range strings.Split(path, ".") {
		if i > 0 {
			b.WriteByte('_')
		}
		r := []rune(key)
		for j, c := range r {
			lowerBefore := j > 0 && (unicode.IsLower(r[j-1]) || unicode.IsDigit(r[j-1]))
			acronymEnd := j > 0 && j+1 < len(r) && unicode.IsUpper(r[j-1]) && unicode.IsLower(r[j+1])
			if unicode.IsUpper(c) && (lowerBefore || acronymEnd) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToUpper(c))
		}
	}
	return b.String()
}

// Keys returns the path of every key that ApplyEnv and Set can set: every
// key of the file except maps (labels.fromParams, labels.static), e.g.
// "xds.address", "istio.enabled", "breaker.cooldown".
func (c *Config) Keys() []string {
	var out []string
	walk(reflect.ValueOf(c).Elem(), "", func(path string, _ reflect.Value) { out = append(out, path) })
	return out
}

// ApplyEnv overrides keys from the environment variables found by lookup
// (os.LookupEnv in production), one per key of Keys, named by EnvName:
// DUBBOMESH_REGISTRIES (URLs separated by spaces, ';' or new lines),
// DUBBOMESH_XDS_ADDRESS, DUBBOMESH_XDS_TLS_CERT, DUBBOMESH_ISTIO_ENABLED, ...
// A value that does not parse (a boolean other than strconv.ParseBool's
// true/false/1/0..., a bad duration or number) is an error.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	var err error
	walk(reflect.ValueOf(c).Elem(), "", func(path string, f reflect.Value) {
		name := EnvName(path)
		if v, ok := lookup(name); ok && err == nil {
			if e := setValue(f, v); e != nil {
				err = fmt.Errorf("%w: %s=%q: %w", ErrInvalid, name, v, e)
			}
		}
	})
	return err
}

// Set sets the key at path (one of Keys) from its text form, as ApplyEnv
// does; command-line flags use it.
func (c *Config) Set(path, value string) error {
	found, err := false, error(nil)
	walk(reflect.ValueOf(c).Elem(), "", func(p string, f reflect.Value) {
		if p == path {
			found = true
			if e := setValue(f, value); e != nil {
				err = fmt.Errorf("%w: %s %q: %w", ErrInvalid, path, value, e)
			}
		}
	})
	if !found {
		return fmt.Errorf("%w: unknown key %q", ErrInvalid, path)
	}
	return err
}

var durationType = reflect.TypeFor[time.Duration]()

// walk calls fn for every settable leaf under v (a struct), by yaml key
// path. Fields tagged "-" are skipped, ",inline" ones are flattened, maps
// are skipped.
func walk(v reflect.Value, prefix string, fn func(path string, f reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		f := v.Field(i)
		if opts == "inline" {
			walk(f, prefix, fn)
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		switch {
		case f.Type() == durationType:
			fn(path, f)
		case f.Kind() == reflect.Struct:
			walk(f, path, fn)
		case f.Kind() == reflect.Map:
		default:
			fn(path, f)
		}
	}
}

// setValue parses s into f, by f's type.
func setValue(f reflect.Value, s string) error {
	if f.Type() == durationType {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want a duration such as 10s")
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.Pointer: // an optional value (model.emptyServiceGrace)
		v := reflect.New(f.Type().Elem())
		if err := setValue(v.Elem(), s); err != nil {
			return err
		}
		f.Set(v)
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("want a non-negative integer of at most %d bits", f.Type().Bits())
		}
		f.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), f.Type().Bits())
		if err != nil {
			return fmt.Errorf("want a number")
		}
		f.SetFloat(n)
	case reflect.Slice:
		items := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ';' || r == '\n' || r == '\t' })
		if f.Type().Elem().Kind() == reflect.String {
			f.Set(reflect.ValueOf(items).Convert(f.Type()))
			return nil
		}
		// Lists of numbers (istio.shardPorts): each item as its element type.
		list := reflect.MakeSlice(f.Type(), len(items), len(items))
		for i, item := range items {
			if k := f.Type().Elem().Kind(); k == reflect.Slice || k == reflect.Struct || k == reflect.Map {
				return fmt.Errorf("unsupported list type %s", f.Type())
			}
			if err := setValue(list.Index(i), item); err != nil {
				return fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		f.Set(list)
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}
