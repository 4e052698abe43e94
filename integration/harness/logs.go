package harness

import (
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// logRing keeps the controller's most recent log lines in memory, so a test
// that fails can show what the controller did just before.
type logRing struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

const logRingSize = 20000

func (r *logRing) add(prefix, args string) {
	line := args
	if prefix != "" {
		line = prefix + " " + args
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lines == nil {
		r.lines = make([]string, logRingSize)
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % logRingSize
	if r.next == 0 {
		r.full = true
	}
}

// matching returns the kept lines that contain every one of subs, oldest first.
func (r *logRing) matching(subs ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []string
	if r.full {
		all = append(all, r.lines[r.next:]...)
	}
	all = append(all, r.lines[:r.next]...)
	var out []string
next:
	for _, l := range all {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

var (
	controllerLogs = &logRing{}
	setLoggerOnce  sync.Once
)

// ringLogger is the logger the harness gives controller-runtime: V(1) and
// below, kept in controllerLogs.
func ringLogger() logr.Logger {
	return funcr.New(controllerLogs.add, funcr.Options{Verbosity: 1})
}

// Logs returns the controller's recent log lines that contain every one of
// subs (all of them when none), oldest first.
func (e *Env) Logs(subs ...string) []string { return controllerLogs.matching(subs...) }
