//go:build !unix

package venv

import (
	"io"
	"os"
)

// readFile reads the file at path into buf[:0], growing it as needed, or
// returns errTooBig if it is larger than limit.
func readFile(path string, buf []byte, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf[:0], err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return buf[:0], err
	} else if st.Size() > limit {
		return buf[:0], errTooBig
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
