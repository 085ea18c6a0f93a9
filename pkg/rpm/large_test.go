package rpm

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// TestLargeFile packs a sparse file of more than 4 GiB and installs it with
// rpm. It reads and writes several GiB, so it runs only with
// RPMFORGE_LARGE=1.
func TestLargeFile(t *testing.T) {
	if os.Getenv("RPMFORGE_LARGE") != "1" {
		t.Skip("set RPMFORGE_LARGE=1 to pack a file of more than 4 GiB")
	}
	const size = 4<<30 + 12345
	dir := t.TempDir()
	big := filepath.Join(dir, "big.img")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse, with a little data at both ends.
	f.WriteString("start")
	f.WriteAt([]byte("end"), size-3)
	f.Close()

	entries := append(installEntries(), Entry{
		Path: "/opt/demo/big.img", Mode: 0o644, MTime: testTime, Size: size,
		Open: func() (io.ReadCloser, error) { return os.Open(big) },
	})
	md := sampleMetadata()
	md.Scripts = Scripts{}
	md.Compression = "zstd"
	out := filepath.Join(dir, "demo.rpm")
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bw := bufio.NewWriter(w)
	res, err := Write(t.Context(), bw, md, entries, Options{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Logf("packed %d bytes into %d in %s", res.InstalledSize, res.Size, time.Since(start))

	e := newRPMEnv(t, "rpm", "rpm2cpio")
	if out := e.run("rpm", "-K", out); !strings.HasSuffix(out, " digests OK\n") {
		t.Fatalf("rpm -K: %s", out)
	}
	got := e.run("rpm", "-qp", "--qf", "%{SIZE} %{LONGSIZE} %{LONGARCHIVESIZE} [%{LONGFILESIZES} ]\n[%{REQUIRENAME}\n]", out)
	if !strings.Contains(got, fmt.Sprintf("(none) %d ", res.InstalledSize)) || !strings.Contains(got, fmt.Sprintf(" %d ", size)) ||
		!strings.Contains(got, "rpmlib(LargeFiles)\n") {
		t.Errorf("rpm -qp --qf:\n%s", got)
	}
	if _, stderr, err := e.try("rpm2cpio", out); err == nil || !strings.Contains(stderr, "files over 4GB") {
		t.Errorf("rpm2cpio: %v %s", err, stderr)
	}

	// Read it back with go-rpmutils (header, digests) and a streaming
	// reader of the stripped cpio archive.
	pf, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if _, _, err := rpmutils.Verify(bufio.NewReader(pf), nil); err != nil {
		t.Fatalf("go-rpmutils Verify: %v", err)
	}
	pf.Seek(0, io.SeekStart)
	r, err := rpmutils.ReadRpm(bufio.NewReader(pf))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := r.Header.GetFiles()
	pf.Seek(int64(r.Header.GetRange().End), io.SeekStart)
	seen := 0
	err = walkStripped(bufio.NewReader(pf), r.Header, files, func(fi rpmutils.FileInfo, data io.Reader) error {
		h := sha256.New()
		n, err := io.Copy(h, data)
		if err != nil {
			return err
		}
		if fi.Mode()&0o170000 == 0o100000 && hex.EncodeToString(h.Sum(nil)) != fi.Digest() {
			return fmt.Errorf("%s: digest mismatch", fi.Name())
		}
		if fi.Name() == "/opt/demo/big.img" && n != size {
			return fmt.Errorf("big.img: %d bytes in payload", n)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(entries)-1 { // minus the ghost
		t.Errorf("%d files in payload, want %d", seen, len(entries)-1)
	}

	e.run("rpm", "-i", "--nodeps", "--force-debian", out)
	if out := e.run("rpm", "-V", "--nodeps", "demo"); out != "" {
		t.Errorf("rpm -V: %s", out)
	}
	fi, err := os.Stat(filepath.Join(e.root, "opt/demo/big.img"))
	if err != nil || fi.Size() != size {
		t.Fatalf("installed big.img: %v %v", fi, err)
	}
}
