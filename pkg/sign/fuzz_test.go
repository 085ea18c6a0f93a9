package sign

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzVerify: Verify on arbitrary bytes never panics or hangs; a package
// it cannot read is a Report with a Problem (not an error: bytes.Reader
// does not fail) and no checks; a report it reaches is self-consistent.
//
//	go test ./pkg/sign -run '^$' -fuzz '^FuzzVerify$' -fuzztime 60s
func FuzzVerify(f *testing.F) {
	ms, _ := filepath.Glob("../../testdata/rpmdb/rpmforge/rpms/*.rpm")
	for _, m := range ms {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\xed\xab\xee\xdb"))
	kr := &KeyRing{}
	if k, err := os.Open("../../testdata/rpmdb/rpmforge/rpms/RPM-GPG-KEY-rpmforge-test"); err == nil {
		if err := kr.Add(k, "test key"); err != nil {
			f.Fatal(err)
		}
		k.Close()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, keys := range []*KeyRing{nil, kr} {
			rep, err := Verify(bytes.NewReader(data), keys, VerifyOptions{})
			if err != nil {
				t.Fatalf("error reading a bytes.Reader: %v", err)
			}
			if rep == nil {
				t.Fatal("nil report")
			}
			if rep.Problem != "" {
				if rep.OK || len(rep.Checks) != 0 || strings.Contains(rep.Problem, "\n") {
					t.Fatalf("unreadable package with a verdict: %+v", rep)
				}
				continue
			}
			if rep.SignaturesOK && !rep.Signed {
				t.Fatalf("signatures OK but not signed: %+v", rep)
			}
			for _, c := range rep.Checks {
				switch c.Result {
				case OK, BAD, NOKEY, NOTFOUND:
				default:
					t.Fatalf("check result %q", c.Result)
				}
				if rep.DigestsOK && c.Kind == "digest" && c.Result == BAD {
					t.Fatalf("digests OK with a BAD digest: %+v", rep)
				}
			}
			if rep.OK && !rep.DigestsOK {
				t.Fatalf("OK with bad digests: %+v", rep)
			}
			_ = rep.Summary()
		}
	})
}
