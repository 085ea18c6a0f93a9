package serve

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const secret = "TOP SECRET outside the root"

var sum64 = strings.Repeat("ab", 32)

// newServer serves a small repository root on loopback and returns its
// address and the root.
func newServer(t *testing.T) (string, string) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(base, "secret.txt"), []byte(secret), 0o644)
	write("prod/repodata/repomd.xml", "<repomd/>\n")
	write("prod/repodata/repomd.xml.asc", "-----BEGIN PGP SIGNATURE-----\n")
	write("prod/repodata/"+sum64+"-primary.xml.gz", "primary")
	write("prod/RPM-GPG-KEY-acme", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
	write("pool/ab/"+sum64+".rpm", "0123456789abcdefghijklmnopqrstuvwxyz")
	write(".rpmforge/pool.json", "{}")
	write("prod/Packages/.rpmforge-tmp-x", "tmp")
	links := map[string]string{
		"prod/Packages/hello-1-1.noarch.rpm": "../../pool/ab/" + sum64 + ".rpm",
		"prod/Packages/abs.rpm":              filepath.Join(base, "secret.txt"),
		"prod/Packages/rel.rpm":              "../../../secret.txt",
		"prod/Packages/dir":                  "../../..",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String(), root
}

// raw sends a request line as is (no client-side cleaning of the path)
// and returns the response and its body.
func raw(t *testing.T, addr, method, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := method + " " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestNoTraversal(t *testing.T) {
	addr, _ := newServer(t)
	for _, target := range []string{
		"/../secret.txt",
		"/prod/../../secret.txt",
		"/%2e%2e/secret.txt",
		"/%2e%2e%2fsecret.txt",
		"/%2E%2E%2Fsecret.txt",
		"/prod/..%2f..%2fsecret.txt",
		"/prod/%2e%2e/%2e%2e/secret.txt",
		"/%252e%252e%252fsecret.txt",
		"/..%5csecret.txt",
		"/..\\secret.txt",
		"/prod/Packages/abs.rpm",
		"/prod/Packages/rel.rpm",
		"/prod/Packages/dir/secret.txt",
		"/prod/Packages/dir/",
		"/.rpmforge/pool.json",
		"/%2erpmforge/pool.json",
		"/prod/Packages/.rpmforge-tmp-x",
		"/prod/repodata/repomd.xml%00.rpm",
		"//secret.txt",
	} {
		resp, body := raw(t, addr, "GET", target)
		if strings.Contains(body, secret) || strings.Contains(body, "{}") || strings.Contains(body, "tmp") {
			t.Errorf("GET %s: %d served what it must not: %q", target, resp.StatusCode, body)
		}
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 400 or 404", target, resp.StatusCode)
		}
	}
	// The listing does not show hidden entries.
	resp, body := raw(t, addr, "GET", "/")
	if resp.StatusCode != 200 || strings.Contains(body, ".rpmforge") || !strings.Contains(body, `href="./prod/"`) {
		t.Errorf("listing: %d %s", resp.StatusCode, body)
	}
	resp, body = raw(t, addr, "GET", "/prod/Packages/")
	if strings.Contains(body, ".rpmforge-tmp") {
		t.Errorf("listing shows temporary files: %s", body)
	}
	if resp, _ := raw(t, addr, "GET", "/prod"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/prod/" {
		t.Errorf("GET /prod: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestCachingAndRanges(t *testing.T) {
	addr, _ := newServer(t)
	for target, want := range map[string]string{
		"/prod/repodata/repomd.xml":                           "no-cache",
		"/prod/repodata/repomd.xml.asc":                       "no-cache",
		"/prod/RPM-GPG-KEY-acme":                              "no-cache",
		"/prod/repodata/" + sum64 + "-primary.xml.gz":         "public, max-age=31536000, immutable",
		"/pool/ab/" + sum64 + ".rpm":                          "public, max-age=31536000, immutable",
		"/prod/Packages/hello-1-1.noarch.rpm":                 "public, max-age=86400",
		"/prod/repodata/repomd.xml?cachebust=1":               "no-cache",
		"/prod/repodata/%61b" + sum64[2:] + "-primary.xml.gz": "public, max-age=31536000, immutable",
	} {
		resp, _ := raw(t, addr, "GET", target)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != want {
			t.Errorf("GET %s: %d, Cache-Control %q, want %q", target, resp.StatusCode, resp.Header.Get("Cache-Control"), want)
		}
	}
	resp, body := raw(t, addr, "GET", "/prod/repodata/repomd.xml")
	etag := resp.Header.Get("ETag")
	if body != "<repomd/>\n" || etag == "" || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("repomd.xml: %q %v", body, resp.Header)
	}
	if resp, _ := raw(t, addr, "GET", "/prod/repodata/repomd.xml", "If-None-Match: "+etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", resp.StatusCode)
	}
	if resp, _ := raw(t, addr, "GET", "/prod/repodata/repomd.xml", "If-Modified-Since: "+resp.Header.Get("Last-Modified")); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation by date: %d", resp.StatusCode)
	}
	// Range requests, through the symlink into the pool.
	resp, body = raw(t, addr, "GET", "/prod/Packages/hello-1-1.noarch.rpm", "Range: bytes=10-15")
	if resp.StatusCode != http.StatusPartialContent || body != "abcdef" || resp.Header.Get("Content-Range") != "bytes 10-15/36" ||
		resp.Header.Get("Content-Type") != "application/x-rpm" {
		t.Errorf("range: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = raw(t, addr, "GET", "/pool/ab/"+sum64+".rpm", "Range: bytes=-4")
	if resp.StatusCode != http.StatusPartialContent || body != "wxyz" {
		t.Errorf("suffix range: %d %q", resp.StatusCode, body)
	}
	if resp, _ := raw(t, addr, "GET", "/pool/ab/"+sum64+".rpm", "Range: bytes=100-"); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range: %d", resp.StatusCode)
	}
	resp, body = raw(t, addr, "HEAD", "/pool/ab/"+sum64+".rpm")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 36 || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD: %d %q %d %v", resp.StatusCode, body, resp.ContentLength, resp.Header)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if resp, _ := raw(t, addr, m, "/prod/repodata/repomd.xml"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
	if resp, _ := raw(t, addr, "GET", "/prod/repodata/repomd.xml/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("file with a slash: %d", resp.StatusCode)
	}
}
