package rpm

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestWriteToFile: writing into an *os.File (the signature computed while
// header and payload are copied into place) gives the same bytes and
// Result as writing to any io.Writer, from any file offset, signed or not,
// and also when the predicted signature size is wrong and the copy is
// redone.
func TestWriteToFile(t *testing.T) {
	signers := testSigners(t)
	entries := append(sampleEntries(), regular("/opt/demo/big", 0o644, strings.Repeat("abcdefgh", 400_000)))
	for _, tc := range []struct {
		name     string
		signer   Signer
		prefix   int
		misjudge int  // added to the predicted signature size
		append   bool // the file is opened O_APPEND (in-order path)
	}{
		{"unsigned", nil, 0, 0, false},
		{"RSA", signers["RSA"], 0, 0, false},
		{"EdDSA at an offset", signers["EdDSA"], 1000, 0, false},
		{"prediction too small", signers["RSA"], 0, -64, false},
		{"prediction too large", nil, 7, 4096, false},
		{"append-only file", signers["EdDSA"], 10, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := sampleMetadata()
			var buf bytes.Buffer
			want, err := Write(context.Background(), &buf, md, entries, Options{Signer: tc.signer})
			if err != nil {
				t.Fatal(err)
			}

			if tc.misjudge != 0 {
				defer func(f func() (int, error)) { predictSignatureSize = f }(predictSignatureSize)
				predictSignatureSize = func() (int, error) {
					n, err := signatureSize()
					return n + tc.misjudge, err
				}
			}
			p := filepath.Join(t.TempDir(), "out.rpm")
			flags := os.O_RDWR | os.O_CREATE | os.O_TRUNC
			if tc.append {
				flags |= os.O_APPEND
			}
			f, err := os.OpenFile(p, flags, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Write(bytes.Repeat([]byte{'x'}, tc.prefix))
			got, err := Write(context.Background(), f, md, entries, Options{Signer: tc.signer, Sync: tc.prefix > 0})
			if err != nil {
				t.Fatal(err)
			}
			if pos, _ := f.Seek(0, io.SeekCurrent); pos != int64(tc.prefix)+got.Size {
				t.Errorf("file offset after Write = %d, want %d", pos, int64(tc.prefix)+got.Size)
			}
			data, _ := os.ReadFile(p)
			if !bytes.Equal(data[tc.prefix:], buf.Bytes()) {
				t.Fatalf("file has %d bytes after the prefix that differ from the %d written to a buffer", len(data)-tc.prefix, buf.Len())
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Result differs:\n file   %+v\n buffer %+v", got, want)
			}
		})
	}
}
