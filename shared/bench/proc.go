package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// errNoProc: peak memory and CPU time are read from /proc, which only Linux has.
var errNoProc = errors.New("needs Linux /proc")

// childOf finds this process's child running binary (fchost starts each function instance as a
// direct child). It returns the newest such child.
func childOf(binary string) (int, error) {
	if runtime.GOOS != "linux" {
		return 0, errNoProc
	}
	want, err := filepath.EvalSymlinks(binary)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	best := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, err := parentOf(pid)
		if err != nil || ppid != self {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || exe != want {
			continue
		}
		best = max(best, pid)
	}
	if best == 0 {
		return 0, fmt.Errorf("no child process runs %s", binary)
	}
	return best, nil
}

// parentOf reads the ppid from /proc/<pid>/stat (the field after the parenthesised command name).
func parentOf(pid int) (int, error) {
	fields, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(fields[1])
}

// statFields are /proc/<pid>/stat's fields after "(comm)": state, ppid, ...
func statFields(pid int) ([]string, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	if runtime.GOOS != "linux" {
		return 0, errNoProc
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime is the process's user plus system time so far.
func cpuTime(pid int) (time.Duration, error) {
	if runtime.GOOS != "linux" {
		return 0, errNoProc
	}
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// After "(comm)": state(0) ppid(1) ... utime(11) stime(12).
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}
