//go:build unix

package s3test

import (
	"os/exec"
	"syscall"
)

// setProcAttr runs the server in its own process group, so that killGroup
// reaches anything it spawns; on Linux it also dies with the test binary
// (see pdeathsig), even when cleanups never run.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pdeathsig(cmd.SysProcAttr)
}

// killGroup sends SIGKILL to the process group of cmd.
func killGroup(cmd *exec.Cmd) {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = cmd.Process.Kill()
	}
}
