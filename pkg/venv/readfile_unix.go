//go:build unix

package venv

import (
	"io/fs"
	"syscall"
)

// readFile reads the regular file at path into buf[:0], growing it as
// needed, or returns errTooBig if it is larger than limit. It uses raw
// system calls: for tens of thousands of small files, os.File's poller
// registration and finalizers cost as much as the reads.
func readFile(path string, buf []byte, limit int64) ([]byte, error) {
	var fd int
	var err error
	for {
		// O_NONBLOCK: never hang on a FIFO swapped in after the walk.
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return buf[:0], &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return buf[:0], &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Size > limit {
		return buf[:0], errTooBig
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return buf, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}
