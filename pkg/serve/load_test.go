package serve

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/rpm"
)

const loadURLEnv = "RPMFORGE_SERVE_LOAD_URL"

// loadStats is what the client process reports.
type loadStats struct {
	Repomds, Files, Packages int
	Bytes                    int64
	Errors                   []string
}

// TestLoadChild is the client process of TestLoad: 16 goroutines fetch,
// for 5 seconds, a channel's repomd.xml, every file it names and a few of
// its packages, checking each against what repomd.xml and primary.xml
// state. It does nothing in a normal run.
func TestLoadChild(t *testing.T) {
	base := os.Getenv(loadURLEnv)
	if base == "" {
		t.Skip("helper process of TestLoad")
	}
	var mu sync.Mutex
	var st loadStats
	fail := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(st.Errors) < 20 {
			st.Errors = append(st.Errors, fmt.Sprintf(format, a...))
		}
	}
	count := func(f func()) { mu.Lock(); f(); mu.Unlock() }
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	get := func(u string) ([]byte, error) {
		resp, err := client.Get(u)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s", resp.Status)
		}
		count(func() { st.Bytes += int64(len(b)) })
		return b, nil
	}
	pkgRe := regexp.MustCompile(`<checksum type="sha256" pkgid="YES">([0-9a-f]{64})</checksum>[\s\S]*?<location href="([^"]+)"`)
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for time.Now().Before(deadline) {
				ch := []string{"dev", "staging"}[rng.IntN(2)]
				chURL := base + ch + "/"
				b, err := get(chURL + "repodata/repomd.xml")
				if err != nil {
					if !strings.Contains(err.Error(), "404") { // before the first publish
						fail("%s repomd.xml: %v", ch, err)
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				md, err := repo.ParseRepomd(b)
				if err != nil {
					fail("%s repomd.xml does not parse: %v\n%s", ch, err, b)
					continue
				}
				count(func() { st.Repomds++ })
				for _, rec := range md.Records {
					data, err := get(chURL + rec.Location)
					if err != nil {
						fail("%s %s (repomd.xml revision %s): %v", ch, rec.Location, md.Revision, err)
						continue
					}
					if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != rec.Checksum || int64(len(data)) != rec.Size {
						fail("%s %s: %d bytes, checksum mismatch (repomd.xml revision %s)", ch, rec.Location, len(data), md.Revision)
						continue
					}
					count(func() { st.Files++ })
					if rec.Type != "primary" {
						continue
					}
					z, err := gzip.NewReader(bytes.NewReader(data))
					if err != nil {
						fail("%s %s: %v", ch, rec.Location, err)
						continue
					}
					xml, err := io.ReadAll(z)
					if err != nil {
						fail("%s %s: %v", ch, rec.Location, err)
						continue
					}
					pkgs := pkgRe.FindAllSubmatch(xml, -1)
					for range min(3, len(pkgs)) {
						m := pkgs[rng.IntN(len(pkgs))]
						data, err := get(chURL + string(m[2]))
						if err != nil {
							fail("%s %s (repomd.xml revision %s): %v", ch, m[2], md.Revision, err)
							continue
						}
						if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != string(m[1]) {
							fail("%s %s: checksum mismatch", ch, m[2])
							continue
						}
						count(func() { st.Packages++ })
					}
				}
			}
		}()
	}
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(st)
}

// TestLoad serves a repository root on loopback while channels change
// all the time (add to dev, promote to staging, now and then a rollback
// of staging), and a second process fetches from it with 16 parallel
// clients for 5 seconds: no error, and never a half-written file: every
// repomd.xml parses, every file it names has the size and checksum it
// states, every package the checksum primary.xml states.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := filepath.Join(t.TempDir(), "acme")
	r, err := channel.Open(dir, channel.Options{User: "load-test", NoSync: true}) // more changes in 5 s
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := t.TempDir()
	n := 0
	addBatch := func() {
		t.Helper()
		var files []string
		for j := range 10 {
			files = append(files, loadPkg(t, src, fmt.Sprintf("load%02d", j), fmt.Sprintf("1.%d", n)))
		}
		n++
		if _, err := r.Add(ctx, "dev", files, channel.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	addBatch()
	if _, err := r.Promote(ctx, "dev", "staging", []string{"load00"}, channel.PromoteOptions{}); err != nil {
		t.Fatal(err)
	}

	h, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(sctx, ln, h) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), loadURLEnv+"=http://"+ln.Addr().String()+"/")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	changes := 0
loop:
	for i := 0; ; i++ {
		select {
		case err := <-waited:
			if err != nil {
				t.Fatalf("client process: %v\n%s\n%s", err, out.String(), errOut.String())
			}
			break loop
		default:
		}
		switch {
		case i%6 == 5:
			hist, err := r.History(ctx, "staging")
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) > 2 {
				if _, err := r.Rollback(ctx, "staging", len(hist)-1); err != nil && !strings.Contains(err.Error(), "already publishes") {
					t.Fatal(err)
				}
			}
		case i%2 == 0:
			addBatch()
		default:
			if _, err := r.Promote(ctx, "dev", "staging", []string{fmt.Sprintf("load%02d", i%10)}, channel.PromoteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		changes++
	}
	var st loadStats
	if err := json.Unmarshal(bytes.TrimSpace(lastLine(out.Bytes())), &st); err != nil {
		t.Fatalf("client output: %v\n%s", err, out.String())
	}
	t.Logf("%d channel changes while the client fetched %d repomd.xml, %d metadata files, %d packages (%d MB)",
		changes, st.Repomds, st.Files, st.Packages, st.Bytes>>20)
	for _, e := range st.Errors {
		t.Error(e)
	}
	if st.Repomds < 50 || st.Packages < 50 || changes < 5 {
		t.Errorf("too little load: %+v, %d changes", st, changes)
	}
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(lines[i], []byte("{")) {
			return lines[i]
		}
	}
	return nil
}

// loadPkg writes a small noarch package (about 64 KiB) into dir.
func loadPkg(t *testing.T, dir, name, version string) string {
	t.Helper()
	bt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	md := rpm.Metadata{Name: name, Version: version, Release: "1", Arch: "noarch",
		Summary: "load test package", License: "MIT", BuildTime: bt}
	content := strings.Repeat(name+" "+version+" ", 64<<10/16)
	entries := []rpm.Entry{
		{Path: "/opt/" + name, Mode: fs.ModeDir | 0o755, MTime: bt},
		{Path: "/opt/" + name + "/data.txt", Mode: 0o644, MTime: bt, Size: int64(len(content)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }},
	}
	var b bytes.Buffer
	if _, err := rpm.Write(context.Background(), &b, md, entries, rpm.Options{TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+"-"+version+"-1.noarch.rpm")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
