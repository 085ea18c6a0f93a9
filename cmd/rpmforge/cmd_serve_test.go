package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeCommand runs serve on a port the system picks, reads the
// address it prints, fetches a file and stops it.
func TestServeCommand(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "prod", "repodata"), 0o755)
	os.WriteFile(filepath.Join(root, "prod", "repodata", "repomd.xml"), []byte("<repomd/>\n"), 0o644)
	pr, pw := io.Pipe()
	var log strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveOptions{root: root, listen: "127.0.0.1:0"}, pw, &log)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "serving "+root+" on ")
	if !ok || !strings.HasPrefix(addr, "http://127.0.0.1:") {
		t.Fatalf("printed %q", line)
	}
	resp, err := http.Get(addr + "prod/repodata/repomd.xml")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "<repomd/>\n" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `GET "/prod/repodata/repomd.xml" 200 10`) {
		t.Errorf("access log: %q", log.String())
	}
}
