package triple

import (
	"reflect"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"
)

// Java type names of Go kinds as hessian2 sends them: the primitive type
// for a value, the boxed class for a pointer to one.
var javaTypes = map[reflect.Kind][2]string{
	reflect.Bool:    {"boolean", "java.lang.Boolean"},
	reflect.Int8:    {"byte", "java.lang.Byte"},
	reflect.Uint8:   {"byte", "java.lang.Byte"},
	reflect.Int16:   {"short", "java.lang.Short"},
	reflect.Uint16:  {"char", "java.lang.Character"},
	reflect.Int32:   {"int", "java.lang.Integer"},
	reflect.Int:     {"long", "java.lang.Long"},
	reflect.Int64:   {"long", "java.lang.Long"},
	reflect.Uint:    {"long", "java.lang.Long"},
	reflect.Uint32:  {"long", "java.lang.Long"},
	reflect.Uint64:  {"long", "java.lang.Long"},
	reflect.Float32: {"float", "java.lang.Float"},
	reflect.Float64: {"double", "java.lang.Double"},
	reflect.String:  {"java.lang.String", "java.lang.String"},
}

// JVM descriptors of arrays of primitive element kinds.
var javaArrays = map[reflect.Kind]string{
	reflect.Bool:    "[Z",
	reflect.Int8:    "[B",
	reflect.Uint8:   "[B",
	reflect.Int16:   "[S",
	reflect.Uint16:  "[C",
	reflect.Int32:   "[I",
	reflect.Int:     "[J",
	reflect.Int64:   "[J",
	reflect.Float32: "[F",
	reflect.Float64: "[D",
	reflect.String:  "[Ljava.lang.String;",
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	objectType = reflect.TypeFor[hessian.Object]()
)

// JavaType returns the Java type name a non-IDL Triple call announces for
// argument v (the wrapper's argTypes): a POJO's JavaClassName(), the
// primitive name for a Go scalar ("int" for int32, "long" for int and
// int64, "java.lang.String"), the boxed class for a pointer to one
// ("java.lang.Integer"), "java.util.Date" for time.Time, a JVM array
// descriptor for a slice of scalars ("[B", "[Ljava.lang.String;"), of
// hessian.Object or of structs ("[Ljava.lang.Object;"), "java.util.Map"
// for maps, "java.util.List" for other slices, and
// "java.lang.Object" for anything else, nil included.
//
// These are the names dubbo-go v3.3.2 derives, except for boxed pointers
// (dubbo-go writes ""), slices of struct pointers (dubbo-go:
// "java.util.List"), "[Ljava.util.Date;" (dubbo-go omits the ';') and nil
// (dubbo-go writes "V").
// A Java provider matches them against its method's parameter types; a
// dubbo-go provider ignores them.
func JavaType(v any) string {
	if v == nil {
		return "java.lang.Object"
	}
	if p, ok := v.(hessian.POJO); ok {
		return p.JavaClassName()
	}
	t := reflect.TypeOf(v)
	boxed := 0
	if t.Kind() == reflect.Pointer {
		t, boxed = t.Elem(), 1
	}
	if t == timeType {
		return "java.util.Date"
	}
	if names, ok := javaTypes[t.Kind()]; ok {
		return names[boxed]
	}
	switch t.Kind() {
	case reflect.Map:
		return "java.util.Map"
	case reflect.Slice, reflect.Array:
		e := t.Elem()
		if e == timeType {
			return "[Ljava.util.Date;"
		}
		if d, ok := javaArrays[e.Kind()]; ok {
			return d
		}
		if e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		if e == objectType || e.Kind() == reflect.Struct {
			return "[Ljava.lang.Object;"
		}
		return "java.util.List"
	}
	return "java.lang.Object"
}
