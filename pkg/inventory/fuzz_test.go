package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dumpErr is the shape of every ParseDump error: one line naming the
// file, and the line when the error is about one.
var dumpErr = regexp.MustCompile(`^inventory: dumps/h 1\.tsv(:[0-9]+)?: [^\n]*$`)

// FuzzParseDump: any dump either parses or gives a one-line error naming
// the file (and line); a parsed dump has packages, each with a name and
// version, sorted.
//
//	go test ./pkg/inventory -run '^$' -fuzz '^FuzzParseDump$' -fuzztime 60s
func FuzzParseDump(f *testing.F) {
	for _, pat := range []string{"../../testdata/rpmdb/rpmforge/*.tsv", "../../testdata/inventory/dumps/*.tsv"} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			if b, err := os.ReadFile(m); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("# host=h\n# columns=name\\tversion\na\t1\n"))
	f.Add([]byte("# collected_at=x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseDump(bytes.NewReader(data), "dumps/h 1.tsv")
		if err != nil {
			if !dumpErr.MatchString(err.Error()) {
				t.Fatalf("error not one line naming the file: %q", err)
			}
			return
		}
		if len(h.Packages) == 0 || h.Name == "" {
			t.Fatalf("parsed without packages or host: %+v", h)
		}
		for i, p := range h.Packages {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package %d without name or version", i)
			}
			if i > 0 && h.Packages[i-1].Name > p.Name {
				t.Fatalf("not sorted at %d", i)
			}
		}
		_ = strings.TrimSpace
	})
}
