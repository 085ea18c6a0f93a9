package scan

import (
	"slices"
	"strings"
	"testing"
)

// WalkFunc hands files over in Walk's order (sorted by Rel) without
// sorting a list: names that sort between a directory and its contents
// ("a-x", "a.b" before "a/...") must come out in place.
func TestWalkFuncSortedByRel(t *testing.T) {
	dir := tree(t, map[string]string{
		"a/b-c/d": "", "a/b.c": "", "a-x": "", "a.b": "", "ab/c": "", "a/b/c/d": "", "a/b/c-d": "", "z": "",
		"a/__pycache__/x.pyc": "",
	}, map[string]string{"a/l": "b"})
	var got []string
	err := WalkFunc(dir, Options{}, func(f File) error {
		if !strings.HasSuffix(f.Abs, "/"+f.Rel) {
			t.Errorf("%s: Abs %s", f.Rel, f.Abs)
		}
		got = append(got, f.Rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(got) {
		t.Errorf("not sorted: %v", got)
	}
	files, err := Walk(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := rels(files); strings.Join(got, ",") != want {
		t.Errorf("WalkFunc %v, Walk %s", got, want)
	}
	if slices.Contains(got, "a/__pycache__") {
		t.Errorf("excluded directory listed: %v", got)
	}
}
