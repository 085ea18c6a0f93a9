package rpmdir

import (
	"path/filepath"
	"testing"
)

const rpms = "../../../testdata/rpmdb/rpmforge/rpms"

// The expected values are those of testdata/rpmdb/README.md.
func TestReadTestRPMs(t *testing.T) {
	pkgs, err := ReadDir(rpms)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 3 {
		t.Fatalf("%d packages, want 3", len(pkgs))
	}
	by := map[string]int{}
	for i, p := range pkgs {
		by[p.NEVRA()] = i
	}
	for _, tc := range []struct {
		nevra, sha256, sigmd5, vendor, license, key, commit string
	}{
		{"mysite-app-1:1.2.3-1.el9.x86_64", "e3ca8940b7c8c95cff3b28762ae3d48dfdd3f752c5a97595b0692ce8cd5d7a94", "33f54a60f13561288c7e450c0c6c248a",
			"ACME Inc.", "BSD-3-Clause AND MIT AND LGPL-3.0-or-later", "00dff9487b320186", "0123456789abcdef0123456789abcdef01234567"},
		{"mysite-app-1:1.2.4-1.el9.x86_64", "43a1a933c154504d9517f077e628060b387af576eed54e0aab3dfee42e52ce85", "573f99686a54f13d6b989cbb813e5b28",
			"ACME Inc.", "BSD-3-Clause AND MIT AND LGPL-3.0-or-later", "00dff9487b320186", "89abcdef0123456789abcdef0123456789abcdef"},
		// Signed with --rpmv3: the key of RSAHEADER, not go-rpmdb's misreading of SIGPGP.
		{"hello-tool-1.0-1.noarch", "c13a9895876b42e3a8e8971cdc8bf0d6abb5a67bb3ff1177fa3b1993bf79d5ea", "83e3d9535450d5b2de59d9eab8687312",
			"Example Corp", "MIT", "00dff9487b320186", ""},
	} {
		i, ok := by[tc.nevra]
		if !ok {
			t.Errorf("%s missing", tc.nevra)
			continue
		}
		p := pkgs[i]
		if p.SHA256 != tc.sha256 || p.SIGMD5 != tc.sigmd5 || p.Vendor != tc.vendor || p.License != tc.license ||
			p.SigningKey != tc.key || p.Commit() != tc.commit {
			t.Errorf("%s: %+v", tc.nevra, p)
		}
		if p.SHA256Header == "" || p.BuildTime.IsZero() || p.Path != filepath.Join(rpms, filepath.Base(p.Path)) {
			t.Errorf("%s: SHA256HEADER %q, build time %v, path %s", tc.nevra, p.SHA256Header, p.BuildTime, p.Path)
		}
	}
	if got := pkgs[by["mysite-app-1:1.2.3-1.el9.x86_64"]].SHA256Header; got != "c67f00d020ee8abc838769f468e47a218a0e04c6ae8cdfe92b8c99896aebcdef" {
		t.Errorf("SHA256HEADER %s", got)
	}
}

func TestCatalog(t *testing.T) {
	ch, dir, err := ParseSpec("stable=" + rpms)
	if err != nil || ch != "stable" || dir != rpms {
		t.Fatalf("ParseSpec: %s %s %v", ch, dir, err)
	}
	if ch, _, _ := ParseSpec(rpms + "/"); ch != "rpms" {
		t.Errorf("channel named %q after the directory", ch)
	}
	if _, _, err := ParseSpec("=x"); err == nil {
		t.Error("an empty channel name was accepted")
	}
	c := New(map[string]string{"stable": rpms})
	if got := c.Channels(); len(got) != 1 || got[0] != "stable" {
		t.Errorf("Channels() = %v", got)
	}
	if _, err := c.Packages("nope"); err == nil {
		t.Error("an unknown channel gave no error")
	}
	p, err := c.Packages("stable")
	if err != nil || len(p) != 3 {
		t.Fatalf("%d packages, %v", len(p), err)
	}
	if _, err := ReadDir(filepath.Join(rpms, "nonexistent")); err == nil {
		t.Error("a missing directory gave no error")
	}
}
