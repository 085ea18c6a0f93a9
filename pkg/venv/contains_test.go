package venv

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkReader returns data in reads of the given sizes (cycled).
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.data))
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestContainsPath(t *testing.T) {
	const needle = "/build/mysite/venv"
	big := bytes.Repeat([]byte("x"), 64<<10) // one full read buffer
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"empty", nil, false},
		{"exact", []byte(needle), true},
		{"absent", []byte("/build/mysite/ven"), false},
		{"prefix only at end", append(bytes.Clone(big), needle[:10]...), false},
		{"spans the 64KiB buffer boundary", append(big[:len(big)-5:len(big)-5], needle...), true},
		{"after the buffer", append(bytes.Clone(big), needle...), true},
		{"far after", append(bytes.Repeat(big, 5), []byte("..."+needle+"\x00")...), true},
		{"binary around", []byte("\x00\x7fELF" + needle + "\x00"), true},
	} {
		readers := map[string]func() io.Reader{
			"plain":    func() io.Reader { return bytes.NewReader(tc.data) },
			"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(tc.data)) },
			"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(tc.data)) },
			"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(tc.data)) },
			"7,3,1000": func() io.Reader { return &chunkReader{data: tc.data, sizes: []int{7, 3, 1000}} },
		}
		for rname, mk := range readers {
			got, err := ContainsPath(mk(), needle)
			if err != nil || got != tc.want {
				t.Errorf("%s/%s: ContainsPath = %v, %v; want %v", tc.name, rname, got, err, tc.want)
			}
		}
	}
}

// TestContainsPathEveryOffset slides the needle across a chunk boundary at
// every possible split.
func TestContainsPathEveryOffset(t *testing.T) {
	const needle = "/srv/build/venv"
	for chunk := 1; chunk <= len(needle)+1; chunk++ {
		for off := 0; off < 2*chunk+len(needle); off++ {
			data := []byte(strings.Repeat("a", off) + needle + "zz")
			got, err := ContainsPath(&chunkReader{data: data, sizes: []int{chunk}}, needle)
			if err != nil || !got {
				t.Fatalf("chunk %d offset %d: %v, %v", chunk, off, got, err)
			}
			// A needle broken by one byte must not match.
			broken := []byte(strings.Repeat("a", off) + needle[:5] + "#" + needle[5:])
			if got, _ := ContainsPath(&chunkReader{data: broken, sizes: []int{chunk}}, needle); got {
				t.Fatalf("chunk %d offset %d: false match", chunk, off)
			}
		}
	}
}

func TestContainsPathErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := ContainsPath(iotest.ErrReader(boom), "/x")
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want wrapped boom", err)
	}
	wantErr(t, err, "/x")
	_, err = ContainsPath(strings.NewReader("x"), "")
	wantErr(t, err, "empty path")
	// A match before the error wins.
	got, err := ContainsPath(io.MultiReader(strings.NewReader("../x/y"), iotest.ErrReader(boom)), "/x/y")
	if !got || err != nil {
		t.Errorf("match before error: %v, %v", got, err)
	}
}
