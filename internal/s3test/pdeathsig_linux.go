package s3test

import "syscall"

// pdeathsig makes the kernel kill the server when the test binary exits, as
// it does without running cleanups on a -timeout panic.
func pdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
