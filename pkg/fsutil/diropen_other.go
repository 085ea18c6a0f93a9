//go:build !linux

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
