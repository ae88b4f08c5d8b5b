package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Debian builds for x86. The kernel derives
// both from the precise runtime, so their sum is exact to a tick.
const clockTick = 10 * time.Millisecond

// daemon is a program the benchmark started and stops.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // of Wait, once done is closed
}

// start runs argv as a daemon named name, with its output in logPath.
func start(name, logPath string, argv ...string) (*daemon, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		f.Close()
		close(d.done)
	}()
	return d, nil
}

// pid is the daemon's own process.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// exited reports an error when the daemon is no longer running: a final
// one, that ends a poll.
func (d *daemon) exited() error {
	select {
	case <-d.done:
		return final{fmt.Errorf("%s exited: %v", d.name, d.err)}
	default:
		return nil
	}
}

// final is an error poll does not retry.
type final struct{ error }

func (f final) Unwrap() error { return f.error }

// stop sends SIGTERM and waits up to 15 s for the daemon to end, then kills
// it.
func (d *daemon) stop() error {
	if d.exited() != nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(15 * time.Second):
	}
	_ = d.cmd.Process.Kill()
	<-d.done
	return fmt.Errorf("%s did not stop within 15 s of SIGTERM: killed", d.name)
}

// tree is the daemon's process and its descendants (keepalived's checker
// runs in a child of the process started).
func (d *daemon) tree() []int {
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range dirs {
		st, err := readStat(p)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], st.pid)
	}
	out := []int{d.pid()}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// cpu is the processor time of a set of processes.
type cpu struct {
	user, sys time.Duration
}

func (c cpu) total() time.Duration { return c.user + c.sys }
func (c cpu) sub(o cpu) cpu        { return cpu{c.user - o.user, c.sys - o.sys} }
func (c cpu) add(o cpu) cpu        { return cpu{c.user + o.user, c.sys + o.sys} }

// stat holds the fields of /proc/PID/stat the benchmark reads.
type stat struct {
	pid, ppid int
	cpu       cpu
}

// readStat parses /proc/PID/stat (at path): after the command name, in
// parentheses that may hold anything, field 3 is the state, 4 the parent,
// 14 and 15 utime and stime.
func readStat(path string) (stat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (stat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return stat{}, errors.New("no command name in parentheses")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return stat{}, fmt.Errorf("pid: %w", err)
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return stat{}, fmt.Errorf("%d fields after the name, want at least 13", len(f))
	}
	var n [3]int64
	for i, idx := range []int{1, 11, 12} { // ppid, utime, stime
		if n[i], err = strconv.ParseInt(f[idx], 10, 64); err != nil {
			return stat{}, fmt.Errorf("field %d: %w", idx+3, err)
		}
	}
	return stat{pid: pid, ppid: int(n[0]), cpu: cpu{time.Duration(n[1]) * clockTick, time.Duration(n[2]) * clockTick}}, nil
}

// cpuOf sums the processor time of pids.
func cpuOf(pids []int) (cpu, error) {
	var c cpu
	for _, p := range pids {
		st, err := readStat(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			return cpu{}, err
		}
		c.user += st.cpu.user
		c.sys += st.cpu.sys
	}
	return c, nil
}

// mem is the resident memory of a set of processes, in kB: VmRSS now and
// VmHWM, its peak, and of VmRSS the process's own memory (RssAnon: heap,
// stacks) and the pages of its binary and libraries (RssFile).
type mem struct {
	rss, hwm   int64
	anon, file int64
}

// max returns the larger of m and o, field by field.
func (m mem) max(o mem) mem {
	return mem{rss: max(m.rss, o.rss), hwm: max(m.hwm, o.hwm), anon: max(m.anon, o.anon), file: max(m.file, o.file)}
}

// memOf sums VmRSS and VmHWM of pids.
func memOf(pids []int) (mem, error) {
	var m mem
	for _, p := range pids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			return mem{}, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			var to *int64
			switch k {
			case "VmRSS":
				to = &m.rss
			case "VmHWM":
				to = &m.hwm
			case "RssAnon":
				to = &m.anon
			case "RssFile":
				to = &m.file
			}
			if !ok || to == nil {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				f.Close()
				return mem{}, fmt.Errorf("/proc/%d/status %s: %w", p, k, err)
			}
			*to += n
		}
		f.Close()
	}
	return m, nil
}

// poll runs fn every gap until it returns nil, and fails with fn's last
// error when ctx ends first, or at once with a final one.
func poll(ctx context.Context, gap time.Duration, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if f := (final{}); errors.As(err, &f) {
			return f.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ctx.Err(), err)
		case <-time.After(gap):
		}
	}
}

// runCmd runs argv and returns its output; the error carries the output.
func runCmd(argv ...string) ([]byte, error) {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}
