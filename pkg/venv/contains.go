package venv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ContainsPath reports whether the stream r contains the byte string path
// anywhere, including across read boundaries. It reads in 64 KiB chunks and
// keeps only len(path)-1 bytes of overlap, so memory stays flat for any file
// size. It is the payload guard's check that no packaged file names the
// build directory; unlike Relocate it does not care about path boundaries.
func ContainsPath(r io.Reader, path string) (bool, error) {
	if path == "" {
		return false, errors.New("venv: ContainsPath: empty path")
	}
	needle := []byte(path)
	keep := len(needle) - 1
	buf := make([]byte, max(64<<10, 2*len(needle)))
	have := 0 // bytes in buf; the first min(have, keep) are carried over
	for {
		if have == len(buf) {
			copy(buf, buf[have-keep:have])
			have = keep
		}
		n, err := r.Read(buf[have:])
		if n > 0 {
			// Only windows that include new bytes need searching.
			from := max(0, have-keep)
			have += n
			if bytes.Contains(buf[from:have], needle) {
				return true, nil
			}
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("venv: checking for %s: %w", path, err)
		}
	}
}
