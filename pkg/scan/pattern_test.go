package scan

import (
	"path"
	"testing"
)

// TestPatternMatchesPathMatch: the fast paths of pattern.match agree with
// path.Match on every pattern and name below.
func TestPatternMatchesPathMatch(t *testing.T) {
	globs := append([]string{"*.pyc", "*", "__pycache__", "a/*.txt", "*[ab]", `*\*`, "*.p?c", "*.", "*/x", ".git", "*~", "*.sw[op]"}, AlwaysExcluded...)
	names := []string{"x.pyc", "a/x.pyc", ".pyc", "pyc", "a/b", "x.txt", "a/b.txt", "a/c/b.txt", "__pycache__",
		"a/__pycache__", "b", "xa", "x*", `x\*`, "x.pyo", "x.", "a/x", "x~", "x.swp", "x.swo", ".git", "", "a/"}
	for _, g := range compilePatterns(globs) {
		for _, n := range names {
			want, _ := path.Match(g.glob, n)
			if got := g.match(n); got != want {
				t.Errorf("pattern %q on %q: %v, path.Match says %v", g.glob, n, got, want)
			}
		}
	}
}
