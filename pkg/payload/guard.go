package payload

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Guard watches every byte written into the payload for paths that must
// not appear in it (the build directories): a file that still names them
// after relocation would break, or leak the build host's layout, once
// installed. It costs no extra read: it sees the bytes as the RPM writer
// reads them.
type Guard struct {
	needles [][]byte
	keep    int
	mu      sync.Mutex
	hits    map[string]string // install path -> needle found
}

// NewGuard watches for each of paths (empty ones ignored).
func NewGuard(paths ...string) *Guard {
	g := &Guard{hits: map[string]string{}}
	seen := map[string]bool{}
	for _, p := range paths {
		p = strings.TrimRight(p, "/")
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		g.needles = append(g.needles, []byte(p))
		if len(p) > g.keep {
			g.keep = len(p)
		}
	}
	return g
}

func (g *Guard) wrap(dest string, open func() (io.ReadCloser, error)) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		return g.reader(dest, rc), nil
	}
}

// reader wraps rc, the contents of the file installed at dest.
func (g *Guard) reader(dest string, rc io.ReadCloser) io.ReadCloser {
	return &guardReader{rc: rc, g: g, dest: dest}
}

// Err lists the files that named a build path, or nil.
func (g *Guard) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.hits) == 0 {
		return nil
	}
	files := make([]string, 0, len(g.hits))
	for f, n := range g.hits {
		files = append(files, f+" (names "+n+")")
	}
	sort.Strings(files)
	const max = 20
	more := ""
	if len(files) > max {
		more = fmt.Sprintf(" and %d more", len(files)-max)
		files = files[:max]
	}
	return fmt.Errorf("payload: %d file(s) still contain the build path after relocation; they would break when installed (exclude them or make the paths relative): %s%s",
		len(g.hits), strings.Join(files, ", "), more)
}

type guardReader struct {
	rc   io.ReadCloser
	g    *Guard
	dest string
	tail []byte // last keep-1 bytes of the previous read, for matches across reads
	hit  bool
}

func (r *guardReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 && !r.hit {
		r.scan(p[:n])
	}
	return n, err
}

func (r *guardReader) scan(chunk []byte) {
	k := r.g.keep - 1
	// Matches across the previous read and this one: only the seam is copied.
	if len(r.tail) > 0 {
		seam := append(append(make([]byte, 0, len(r.tail)+k), r.tail...), chunk[:min(k, len(chunk))]...)
		if r.match(seam) {
			return
		}
	}
	if r.match(chunk) {
		return
	}
	if len(chunk) >= k {
		r.tail = append(r.tail[:0], chunk[len(chunk)-k:]...)
	} else {
		r.tail = append(r.tail, chunk...)
		if len(r.tail) > k {
			r.tail = r.tail[len(r.tail)-k:]
		}
	}
}

func (r *guardReader) match(buf []byte) bool {
	for _, n := range r.g.needles {
		if bytes.Contains(buf, n) {
			r.hit = true
			r.g.mu.Lock()
			r.g.hits[r.dest] = string(n)
			r.g.mu.Unlock()
			return true
		}
	}
	return false
}

func (r *guardReader) Close() error { return r.rc.Close() }
