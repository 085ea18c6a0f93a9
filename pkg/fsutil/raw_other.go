//go:build !unix

package fsutil

import (
	"io"
	"os"
)

// DirOpener opens files for reading (with os.Open where openat is not
// used).
type DirOpener struct{}

// Open opens name for reading.
func (o *DirOpener) Open(name string) (io.ReadCloser, error) { return os.Open(name) }

// Close does nothing.
func (o *DirOpener) Close() error { return nil }

// OpenRaw opens the file name for reading.
func OpenRaw(name string) (io.ReadCloser, error) { return os.Open(name) }

// ReadFileLimit reads the file at path into buf[:0], growing it as needed,
// or returns ErrTooBig if it is larger than limit.
func ReadFileLimit(path string, buf []byte, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf[:0], err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return buf[:0], err
	} else if st.Size() > limit {
		return buf[:0], ErrTooBig
	}
	return readAllInto(f, buf)
}
