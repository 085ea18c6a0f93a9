//go:build !unix

package rpm

import "os"

// appendOnly is true where it cannot be asked: the in-order path is always
// right.
func appendOnly(*os.File) bool { return true }
