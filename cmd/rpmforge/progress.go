package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress prints build steps and a byte counter on a terminal, and nothing
// when quiet or when stderr is not a terminal (CI logs stay clean).
type progress struct {
	w       io.Writer
	enabled bool
	mu      sync.Mutex
	step    string
	last    time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, enabled: !quiet && isTerminal(w)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) Step(name string) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step = name
	fmt.Fprintf(p.w, "\r\033[K%s...", name)
}

func (p *progress) Bytes(done, total int64) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(p.w, "\r\033[K%s: %s / %s (%.0f%%)", p.step, humanBytes(done), humanBytes(total), pct)
}

func (p *progress) Done() {
	if p.enabled {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
