//go:build unix && !linux

package miniotest

import "syscall"

func pdeathsig(*syscall.SysProcAttr) {}
