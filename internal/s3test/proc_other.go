//go:build !unix

package s3test

import "os/exec"

func setProcAttr(*exec.Cmd) {}

// killGroup kills the server process.
func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
