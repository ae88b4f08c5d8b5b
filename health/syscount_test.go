package health

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syscallCounter counts the system calls of every thread of the process
// with the kernel's raw_syscalls:sys_enter tracepoint (perf_event_open):
// one counter per thread that exists when it is opened, each inherited by
// the threads that thread creates later, so the Go runtime's new threads
// count too. It needs root or a low kernel.perf_event_paranoid; benchmarks
// report no syscalls/check without it.
type syscallCounter struct {
	fds []int
}

// newSyscallCounter opens the counters, or returns the reason it cannot.
func newSyscallCounter() (*syscallCounter, error) {
	id, err := syscallTracepointID()
	if err != nil {
		return nil, err
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	c := &syscallCounter{}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		attr := unix.PerfEventAttr{
			Type:   unix.PERF_TYPE_TRACEPOINT,
			Config: id,
			Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
			Bits:   unix.PerfBitInherit,
		}
		fd, err := unix.PerfEventOpen(&attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err == unix.ESRCH {
			continue // the thread exited meanwhile
		}
		if err != nil {
			c.close()
			return nil, os.NewSyscallError("perf_event_open", err)
		}
		c.fds = append(c.fds, fd)
	}
	return c, nil
}

// syscallTracepointID reads the tracepoint's id from tracefs.
func syscallTracepointID() (uint64, error) {
	var last error
	for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		b, err := os.ReadFile(dir + "/events/raw_syscalls/sys_enter/id")
		if err != nil {
			last = err
			continue
		}
		return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	return 0, last
}

// count returns the system calls counted so far, the counters' own reads
// included (one per thread counter).
func (c *syscallCounter) count() uint64 {
	var sum uint64
	var buf [8]byte
	for _, fd := range c.fds {
		if n, err := unix.Read(fd, buf[:]); err == nil && n == 8 {
			sum += binary.NativeEndian.Uint64(buf[:])
		}
	}
	return sum
}

func (c *syscallCounter) close() {
	for _, fd := range c.fds {
		unix.Close(fd)
	}
	c.fds = nil
}
