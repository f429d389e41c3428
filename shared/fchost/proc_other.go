//go:build !unix

package fchost

import "os/exec"

func setProcessAttributes(*exec.Cmd) {}

func killProcess(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// terminateProcess: without signals, stopping is killing.
func terminateProcess(cmd *exec.Cmd) { killProcess(cmd) }
