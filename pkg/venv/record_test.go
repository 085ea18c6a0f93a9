package venv

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func b64(sum []byte) string { return base64.RawURLEncoding.EncodeToString(sum) }

func TestUpdateRecord(t *testing.T) {
	newContent := []byte("#!/opt/v/bin/python\n")
	s256 := sha256.Sum256(newContent)
	s512 := sha512.Sum512(newContent)
	h := "sha256=" + b64(s256[:])
	changed := map[string]bool{"../../../bin/x": true, "a,b.py": true, `q"uote.py`: true, "multi\nline.py": true, "/abs/bin/x": true}
	lookup := func(p string) ([]byte, bool) { return newContent, changed[p] }
	for _, tc := range []struct{ name, in, want string }{
		{"crlf kept", "../../../bin/x,sha256=old,10\r\nother.py,sha256=keep,3\r\n",
			"../../../bin/x," + h + ",20\r\nother.py,sha256=keep,3\r\n"},
		{"lf and no final newline", "other.py,sha256=keep,3\n../../../bin/x,sha256=old,10",
			"other.py,sha256=keep,3\n../../../bin/x," + h + ",20"},
		{"quoted path keeps its quotes", "\"a,b.py\",sha256=old,1\r\n\"q\"\"uote.py\",sha256=old,1\r\n",
			"\"a,b.py\"," + h + ",20\r\n\"q\"\"uote.py\"," + h + ",20\r\n"},
		{"quoted field spanning lines", "\"multi\nline.py\",sha256=old,1\nx.py,,\n",
			"\"multi\nline.py\"," + h + ",20\nx.py,,\n"},
		{"algorithm kept", "../../../bin/x,sha512=old,10\n", "../../../bin/x,sha512=" + b64(s512[:]) + ",20\n"},
		{"debian hex digest becomes base64", "../../../bin/x,sha256=0123abcd,10\n", "../../../bin/x," + h + ",20\n"},
		{"unknown algorithm becomes sha256", "../../../bin/x,md5=old,10\n", "../../../bin/x," + h + ",20\n"},
		{"empty hash and size stay empty", "../../../bin/x,,\n", ""},
		{"empty size stays empty", "../../../bin/x,sha256=old,\n", "../../../bin/x," + h + ",\n"},
		{"absolute path", "/abs/bin/x,sha256=old,1\n", "/abs/bin/x," + h + ",20\n"},
		{"blank lines and short rows untouched", "\n\r\njunk\n../../../bin/x,sha256=old,1\n", "\n\r\njunk\n../../../bin/x," + h + ",20\n"},
		{"nothing to change", "other.py,sha256=keep,3\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := updateRecord([]byte(tc.in), lookup)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got  %q\nwant %q", out, tc.want)
			}
		})
	}
	_, err := updateRecord([]byte("ok.py,,\n\"unterminated,sha256=x,1\n"), lookup)
	wantErr(t, err, "line 2: unterminated quoted field")
}

func TestRecordTarget(t *testing.T) {
	r := &relocator{to: "/opt/v", prefixes: []string{"/b/venv", "/real/venv"}}
	site := "lib/python3.11/site-packages"
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"../../../bin/pip", "bin/pip", true},
		{"pip/__init__.py", site + "/pip/__init__.py", true},
		{"../../../../outside", "", false},
		{"/b/venv/share/x", "share/x", true},
		{"/real/venv/share/x", "share/x", true},
		{"/opt/v/share/x", "share/x", true},
		{"/usr/share/x", "", false},
		{"/b/venv2/x", "", false},
	} {
		got, ok := r.recordTarget(site, tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("recordTarget(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestRelocateRecordAbsolutePaths: a RECORD naming files by absolute build
// path is rewritten as text and its hashes updated.
func TestRelocateRecordAbsolutePaths(t *testing.T) {
	v := newFixture(t)
	di := filepath.Join(v.SitePackages(), "tool-1.0.dist-info")
	writeFile(t, filepath.Join(v.Dir, "share/tool/tool.conf"), "root = "+v.Dir+"\n")
	writeFile(t, filepath.Join(di, "RECORD"), v.Dir+"/share/tool/tool.conf,sha256=old,99\ntool-1.0.dist-info/RECORD,,\n")
	rel, err := v.Relocate(installPath)
	if err != nil {
		t.Fatal(err)
	}
	conf := rel.Overrides["share/tool/tool.conf"]
	sum := sha256.Sum256(conf)
	want := installPath + "/share/tool/tool.conf,sha256=" + b64(sum[:]) + "," + strconv.Itoa(len(conf)) + "\ntool-1.0.dist-info/RECORD,,\n"
	if got := string(rel.Overrides["lib/python3.11/site-packages/tool-1.0.dist-info/RECORD"]); got != want {
		t.Errorf("RECORD = %q, want %q", got, want)
	}
	if !strings.HasPrefix(string(conf), "root = /opt/mysite/venv") {
		t.Errorf("tool.conf = %q", conf)
	}
}
