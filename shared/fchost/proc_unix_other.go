//go:build unix && !linux

package fchost

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}
