package rpmdir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadPackage: ReadPackage on arbitrary bytes never panics or hangs;
// an error names the path; a package read has a name and the digest of
// the whole input.
//
//	go test ./pkg/inventory/rpmdir -run '^$' -fuzz '^FuzzReadPackage$' -fuzztime 60s
func FuzzReadPackage(f *testing.F) {
	ms, _ := filepath.Glob("../../../testdata/rpmdb/rpmforge/rpms/*.rpm")
	for _, m := range ms {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPackage(bytes.NewReader(data), "pool/x y.rpm")
		if err != nil {
			if !strings.Contains(err.Error(), "pool/x y.rpm") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		sum := sha256.Sum256(data)
		if p.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("sha256 %s, want the input's", p.SHA256)
		}
		if p.Path != "pool/x y.rpm" {
			t.Fatalf("path %q", p.Path)
		}
	})
}
