package xzmt

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// input returns n bytes that compress somewhat: words from a small
// vocabulary with random bytes mixed in.
func input(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"django", "import ", "def ", "return ", "self.", "\n    ", "class ", "venv/lib/python3.11/"}
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(8) == 0 {
			b.WriteByte(byte(r.IntN(256)))
			continue
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func compress(t *testing.T, cfg Config, data []byte, chunk int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := cfg.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	for p := data; len(p) > 0; {
		k := min(chunk, len(p))
		if _, err := w.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestRoundTrip(t *testing.T) {
	const bs = 64 << 10
	for _, tc := range []struct {
		name  string
		size  int
		chunk int
	}{
		{"empty", 0, 1},
		{"one byte", 1, 1},
		{"under one block", bs - 1, 1000},
		{"exactly one block", bs, bs},
		{"one block and a byte", bs + 1, 7777},
		{"many blocks", 10*bs + 123, 100000},
		{"exact multiple", 4 * bs, 3 * bs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := input(tc.size, uint64(tc.size))
			for _, threads := range []int{1, 2, 4} {
				cfg := Config{DictCap: 32 << 10, BlockSize: bs, Threads: threads}
				got := compress(t, cfg, data, tc.chunk)
				r, err := xz.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatalf("threads %d: ulikunitz/xz reader: %v", threads, err)
				}
				back, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("threads %d: ulikunitz/xz reader: %v", threads, err)
				}
				if !bytes.Equal(back, data) {
					t.Fatalf("threads %d: round trip differs (%d bytes back, want %d)", threads, len(back), len(data))
				}
			}
		})
	}
}

// TestSameOutputAnyThreads: the stream depends on the input and the block
// size, not on how many goroutines compress or how the input was split
// into writes.
func TestSameOutputAnyThreads(t *testing.T) {
	data := input(1<<20+999, 7)
	want := sha256.Sum256(compress(t, Config{DictCap: 64 << 10, BlockSize: 128 << 10, Threads: 1}, data, 1<<20))
	for _, tc := range []struct{ threads, chunk int }{{2, 4096}, {3, 333333}, {8, 1}} {
		got := sha256.Sum256(compress(t, Config{DictCap: 64 << 10, BlockSize: 128 << 10, Threads: tc.threads}, data, tc.chunk))
		if got != want {
			t.Errorf("threads %d, writes of %d: output differs from one thread's", tc.threads, tc.chunk)
		}
	}
}

// TestXZUtils checks the stream with the reference implementation: xz -t
// tests it, xz -lvv lists one block per BlockSize with both sizes, and
// Python's lzma (liblzma) decodes it.
func TestXZUtils(t *testing.T) {
	xzBin, err := exec.LookPath("xz")
	if err != nil {
		if os.Getenv("RPMFORGE_TESTROOT") == "require" {
			t.Fatal("xz not found (apt-get install xz-utils)")
		}
		t.Skip("xz not found")
	}
	data := input(5*100000+17, 3)
	f := filepath.Join(t.TempDir(), "a.xz")
	if err := os.WriteFile(f, compress(t, Config{DictCap: 64 << 10, BlockSize: 100000, Threads: 2}, data, 65536), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(xzBin, "-t", f).CombinedOutput(); err != nil {
		t.Fatalf("xz -t: %v\n%s", err, out)
	}
	out, err := exec.Command(xzBin, "-lvv", "--robot", f).CombinedOutput()
	if err != nil {
		t.Fatalf("xz -lvv: %v\n%s", err, out)
	}
	var blocks []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "block\t") {
			blocks = append(blocks, line)
		}
		if strings.HasPrefix(line, "file\t") && !strings.Contains(line, "\tCRC64\t") {
			t.Errorf("check is not CRC64: %q", line)
		}
	}
	if len(blocks) != 6 {
		t.Fatalf("xz -lvv lists %d blocks, want 6:\n%s", len(blocks), out)
	}
	// Fields: block, stream, block number in the stream, in the file,
	// compressed offset, uncompressed offset, total size, uncompressed size,
	// ratio, check, check value, header size, size flags ("cu": both sizes
	// in the header), ...
	for i, b := range blocks {
		f := strings.Split(b, "\t")
		want := "100000"
		if i == 5 {
			want = "17"
		}
		if f[7] != want || f[12] != "cu" {
			t.Errorf("block %d: uncompressed %s (want %s), size flags %q (want cu)", i+1, f[7], want, f[12])
		}
	}
	dec, err := exec.Command(xzBin, "-dc", f).Output()
	if err != nil {
		t.Fatalf("xz -dc: %v", err)
	}
	if !bytes.Equal(dec, data) {
		t.Fatalf("xz -dc gives %d bytes that differ from the %d written", len(dec), len(data))
	}
}

func TestDictProperty(t *testing.T) {
	for _, tc := range []struct {
		dict int
		want byte
	}{
		{4096, 0}, {1 << 20, 16}, {2 << 20, 18}, {3 << 20, 19}, {8 << 20, 22}, {(8 << 20) + 1, 23}, {64 << 20, 28},
	} {
		if got := dictProperty(tc.dict); got != tc.want {
			t.Errorf("dictProperty(%d) = %d, want %d", tc.dict, got, tc.want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []Config{{BlockSize: 100}, {DictCap: 10}, {Threads: -1}} {
		if _, err := c.NewWriter(io.Discard); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
