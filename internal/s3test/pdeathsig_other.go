//go:build unix && !linux

package s3test

import "syscall"

func pdeathsig(*syscall.SysProcAttr) {}
