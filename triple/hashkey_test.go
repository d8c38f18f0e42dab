package triple

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestHashKey(t *testing.T) {
	long := strings.Repeat("k", 300)
	for _, tt := range []struct {
		name    string
		args    []any
		indices []int
		want    string
	}{
		{"first string", []any{"user-1", "x"}, []int{0}, "user-1"},
		{"concatenated", []any{"a", 7, "c"}, []int{0, 1, 2}, "a7c"},
		{"out of range ignored", []any{"a"}, []int{0, 3, -1}, "a"},
		{"no args", nil, []int{0}, ""},
		{"fmt for other values", []any{[]int{1, 2}}, []int{0}, "[1 2]"},
		{"wrapper message", []any{wrapperspb.String("key-3")}, []int{0}, "key-3"},
		{"int wrapper", []any{wrapperspb.Int64(-42)}, []int{0}, "-42"},
		{"other message", []any{structpb.NewStringValue("x")}, []int{0}, "GgF4"},
		{"not printable", []any{"ключ"}, []int{0}, ""}, // a digest, checked below
		{"too long", []any{long}, []int{0}, ""},        // a digest, checked below
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := HashKey(tt.args, tt.indices)
			switch tt.name {
			case "too long", "not printable":
				if !strings.HasPrefix(got, "sha256:") || len(got) != len("sha256:")+64 {
					t.Errorf("HashKey = %q, want a sha256 digest", got)
				}
				if HashKey(tt.args, tt.indices) != got {
					t.Error("HashKey is not deterministic")
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("HashKey (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHashArguments(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"0", []int{0}, false},
		{"0,2", []int{0, 2}, false},
		{" 1 , 3 ", []int{1, 3}, false},
		{"a", nil, true},
		{"", nil, true},
	} {
		got, err := ParseHashArguments(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseHashArguments(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseHashArguments(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzParseHashArguments(f *testing.F) {
	for _, s := range []string{"0", "0,1", " 2 ,, 3", "-1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		idx, err := ParseHashArguments(s)
		if err == nil && len(idx) == 0 {
			t.Fatalf("ParseHashArguments(%q): no index and no error", s)
		}
	})
}
