//go:build linux

package fchost

import "syscall"

// setParentDeathSignal kills an instance if fchost itself dies without stopping it.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
