//go:build unix

package rpm

import (
	"os"

	"golang.org/x/sys/unix"
)

// appendOnly reports whether f was opened with O_APPEND.
func appendOnly(f *os.File) bool {
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	return err != nil || fl&unix.O_APPEND != 0
}
