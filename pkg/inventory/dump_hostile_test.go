package inventory

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bigDump writes a dump of n package lines; line broken (1-based, counting
// the header lines) is replaced by garbage when > 0.
func bigDump(n int, broken int, bad string) []byte {
	var b bytes.Buffer
	b.WriteString(DumpMagic + "\n# host=big\n# collected_at=2026-11-26T16:05:00Z\n")
	for i := 0; i < n; i++ {
		if i+4 == broken {
			b.WriteString(bad + "\n")
			continue
		}
		fmt.Fprintf(&b, "pkg%d\t0\t1.%d\t1.el9\tx86_64\tVendor & <Co>\tMIT\t1795700000\t1700000000\t0123456789abcdef0123456789abcdef\t(none)\t(none)\tpkg%d-1.src.rpm\t(none)\n", i, i, i)
	}
	return b.Bytes()
}

// TestDumpHostile: a 100k-line dump parses quickly; one broken line in it
// is a one-line error naming the file and that line; a line longer than
// the scanner's limit names its line too.
func TestDumpHostile(t *testing.T) {
	const n = 100_000
	dump := bigDump(n, 0, "")
	start := time.Now()
	h, err := ParseDump(bytes.NewReader(dump), "dumps/big host.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Packages) != n || h.Name != "big" {
		t.Fatalf("%d packages, host %q", len(h.Packages), h.Name)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("100k lines took %v", d)
	}
	for _, c := range []struct{ bad, want string }{
		{"pkgX\t0\t1", "3 tab-separated fields"},
		{"pkgX\tx\t1\t1\tx86_64\tv\tMIT\t1\t1\t\t\t\t\t", "epochnum"},
		{"pkgX\t0\t1\t1\tx86_64\tv\tMIT\t1\t1\tnothex\t\t\t\t", "sigmd5"},
		{"error: tag not found: SHA256HEADER", "rpm reported"},
		{"\xff\xfe<&>\"'\t", "fields"},
	} {
		_, err := ParseDump(bytes.NewReader(bigDump(n, 54321, c.bad)), "dumps/big host.tsv")
		if err == nil {
			t.Errorf("%q accepted", c.bad)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "inventory: dumps/big host.tsv:54321: ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%q: error %q, want one line naming dumps/big host.tsv:54321 and %q", c.bad, msg, c.want)
		}
	}
	// A line over the 4 MiB limit.
	long := append(bigDump(10, 0, ""), bytes.Repeat([]byte("x"), 5<<20)...)
	long = append(long, '\n')
	_, err = ParseDump(bytes.NewReader(long), "dumps/long.tsv")
	if err == nil || !strings.HasPrefix(err.Error(), "inventory: dumps/long.tsv:14: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("long line: %v", err)
	}
	// ReadDump names the path given.
	p := filepath.Join(t.TempDir(), "a b&.tsv")
	os.WriteFile(p, bigDump(3, 5, "broken"), 0o644)
	if _, err := ReadDump(p); err == nil || !strings.Contains(err.Error(), p+":5: ") {
		t.Errorf("ReadDump: %v", err)
	}
}
