package apicheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// publicPackages are the module's public packages, relative to its root.
var publicPackages = []string{
	"registry", "registry/zookeeper", "registry/nacos",
	"xds", "xds/istio", "router", "adapter", "adapter/proxyless", "triple", "naming", "policy",
}

// TestNoInternalTypesInPublicAPI: exported functions, methods, types,
// struct fields, interface methods, variables and constants of the public
// packages use no type from an internal/ package.
func TestNoInternalTypesInPublicAPI(t *testing.T) {
	for _, dir := range publicPackages {
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Errorf("%s: no Go files; update publicPackages", dir)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			for _, bad := range internalUses(t, path) {
				t.Errorf("%s: %s", dir, bad)
			}
		}
	}
}

// TestInternalUsesFindsOne: the check sees an internal type in an
// exported field.
func TestInternalUsesFindsOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.go")
	src := "package x\nimport d \"example.com/m/internal/debounce\"\ntype Config struct{ Debounce d.Config }\ntype hidden struct{ D d.Config }\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := internalUses(t, path)
	if len(got) != 1 || !strings.Contains(got[0], "Config.Debounce") {
		t.Errorf("internalUses = %q, want one use in Config.Debounce", got)
	}
}

// internalUses lists the exported declarations of the file at path whose
// types mention an import of an internal package.
func internalUses(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	internal := map[string]string{} // local name → import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if !strings.Contains(p, "/internal/") && !strings.HasSuffix(p, "/internal") {
			continue
		}
		name := p[strings.LastIndexByte(p, '/')+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		internal[name] = p
	}
	if len(internal) == 0 {
		return nil
	}
	var out []string
	check := func(where string, n ast.Node) {
		if n == nil {
			return
		}
		ast.Inspect(n, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && internal[id.Name] != "" {
					out = append(out, where+" uses "+internal[id.Name]+"."+sel.Sel.Name)
				}
			}
			return true
		})
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Recv != nil && !exportedRecv(d.Recv) {
				continue
			}
			check(d.Name.Name, d.Type)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {
						checkType(s.Name.Name, s.Type, check)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							check(n.Name, s.Type)
							for _, v := range s.Values {
								check(n.Name, v)
							}
						}
					}
				}
			}
		}
	}
	return out
}

// checkType checks a type declaration's exported parts: all of it, but for
// a struct only its exported (and embedded) fields, and for an interface
// its exported methods.
func checkType(name string, typ ast.Expr, check func(string, ast.Node)) {
	switch tt := typ.(type) {
	case *ast.StructType:
		for _, fld := range tt.Fields.List {
			if len(fld.Names) == 0 {
				check(name+" (embedded)", fld.Type)
			}
			for _, n := range fld.Names {
				if n.IsExported() {
					check(name+"."+n.Name, fld.Type)
				}
			}
		}
	case *ast.InterfaceType:
		for _, m := range tt.Methods.List {
			if len(m.Names) == 0 || m.Names[0].IsExported() {
				check(name+" (method)", m.Type)
			}
		}
	default:
		check(name, typ)
	}
}

func exportedRecv(recv *ast.FieldList) bool {
	if len(recv.List) == 0 {
		return false
	}
	typ := recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if idx, ok := typ.(*ast.IndexExpr); ok {
		typ = idx.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}
