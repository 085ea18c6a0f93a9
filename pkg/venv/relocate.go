package venv

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
)

// Relocation holds the content changes that make a venv work at its install
// path. Files not in Overrides are to be packaged unchanged.
type Relocation struct {
	Overrides map[string][]byte // slash path relative to Venv.Dir → new full content
	Rewritten []string          // the keys of Overrides, sorted (for reports)

	sums map[pathKey][sha256.Size]byte
}

// Sum returns the SHA-256 of the regular file at rel (a slash path relative
// to Venv.Dir) as it will be packaged: of its override if it has one, else
// of the content Relocate read. ok is false for files Relocate did not read
// (*.pyc, __pycache__, symlinks, files it never saw). Relocate reads every
// other file anyway; keeping 48 bytes per file (a 128-bit hash of the path
// and the digest, not the path) spares later steps a second read.
func (r *Relocation) Sum(rel string) (sum [sha256.Size]byte, ok bool) {
	if r == nil {
		return sum, false
	}
	sum, ok = r.sums[keyOf(rel)]
	return sum, ok
}

// pathKey identifies a path by a 128-bit hash of it.
type pathKey [16]byte

func keyOf(rel string) pathKey {
	h := sha256.Sum256([]byte(rel))
	return pathKey(h[:16])
}

// Problem is one file that blocks relocation.
type Problem struct {
	Path   string // slash path relative to Venv.Dir
	Reason string // what is wrong and what to do about it
}

// ErrNotRelocatable is matched (errors.Is) by *RelocateError.
var ErrNotRelocatable = errors.New("venv: not relocatable")

// RelocateError lists every file that prevents relocating the venv, so one
// run reports them all.
type RelocateError struct {
	From, To string
	Problems []Problem // sorted by Path
}

func (e *RelocateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "venv: cannot relocate %s to %s: %d file(s) still name the build machine's paths:", e.From, e.To, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n\t%s: %s", p.Path, p.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotRelocatable) true.
func (e *RelocateError) Is(target error) bool { return target == ErrNotRelocatable }

// interpreterKeys are the pyvenv.cfg keys that describe the base interpreter;
// relocation leaves them alone (they point at e.g. /usr/bin on both machines).
var interpreterKeys = map[string]bool{
	"home": true, "executable": true, "base-executable": true,
	"base-prefix": true, "base-exec-prefix": true,
}

// Relocate computes, without modifying anything on disk, the content changes
// needed for the venv to work when installed at to instead of v.Dir.
//
// Every regular file is read once (__pycache__ directories and *.pyc are
// skipped: they must be excluded from the payload or compiled on the
// target). A file that contains v.Dir, or its symlink-resolved real path, is
// handled by type:
//
//   - text (no NUL byte): each reference to the venv — a match followed by
//     "/", a quote, whitespace or the end, so "/build/venv2" is not one — is
//     replaced by to. This covers shebangs, bin/activate*, *.pth and any
//     other text. In pyvenv.cfg only keys naming the venv itself change
//     ("command = ... -m venv /build/venv"); "home" and "executable" stay.
//   - binary (has a NUL byte, e.g. an ELF RPATH): reported as a Problem.
//
// Independently, *.pth, *.egg-link and *.dist-info/direct_url.json files that
// point into the build tree outside the venv (editable installs of the
// project, such as /build/src) are Problems, as is a pyvenv.cfg whose base
// interpreter lives there. The build tree is the venv's parent directory.
// Symlinks whose target names the venv or leads into the build tree are
// Problems too, as is a rewritten shebang line longer than 127 bytes.
//
// Every *.dist-info/RECORD that lists a rewritten file gets that row's hash
// (urlsafe base64 without padding) and size updated, byte-for-byte otherwise
// (order, quoting and line endings kept), and becomes an override itself.
//
// All problems are returned together as a *RelocateError. I/O errors abort.
func (v *Venv) Relocate(to string) (*Relocation, error) {
	if !filepath.IsAbs(to) {
		return nil, fmt.Errorf("venv: install path %q is not absolute (use e.g. /opt/<name>/venv)", to)
	}
	if strings.ContainsAny(to, "\x00\n\r\"'\\ \t") {
		return nil, fmt.Errorf("venv: install path %q contains a quote, backslash, space or control character, which shebangs and activate scripts cannot carry", to)
	}
	r, err := newRelocator(v, filepath.Clean(to))
	if err != nil {
		return nil, err
	}
	if err := r.scan(); err != nil {
		return nil, err
	}
	r.fixRecords()
	if len(r.problems) > 0 {
		slices.SortStableFunc(r.problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
		return nil, &RelocateError{From: v.Dir, To: r.to, Problems: r.problems}
	}
	rel := &Relocation{Overrides: r.overrides, sums: r.sums}
	for p, content := range r.overrides {
		rel.Rewritten = append(rel.Rewritten, p)
		rel.sums[keyOf(p)] = sha256.Sum256(content)
	}
	slices.Sort(rel.Rewritten)
	return rel, nil
}

type relocator struct {
	v          *Venv
	root       string   // symlink-resolved v.Dir; the tree walked
	prefixes   []string // v.Dir and root (if different)
	needles    [][]byte // prefixes as bytes, longest first
	to         string
	buildRoots []string // parents of prefixes, "/" excluded

	mu        sync.Mutex
	sums      map[pathKey][sha256.Size]byte // of every file read, as read
	overrides map[string][]byte
	records   map[string][]byte // RECORD path → original content
	problems  []Problem
}

func newRelocator(v *Venv, to string) (*relocator, error) {
	root, err := filepath.EvalSymlinks(v.Dir)
	if err != nil {
		return nil, fmt.Errorf("venv: resolving %s: %w", v.Dir, err)
	}
	r := &relocator{v: v, root: root, to: to, overrides: map[string][]byte{}, records: map[string][]byte{}, sums: map[pathKey][sha256.Size]byte{}}
	r.prefixes = []string{v.Dir}
	if root != v.Dir {
		r.prefixes = append(r.prefixes, root)
	}
	slices.SortFunc(r.prefixes, func(a, b string) int { return len(b) - len(a) })
	for _, p := range r.prefixes {
		r.needles = append(r.needles, []byte(p))
		if parent := filepath.Dir(p); parent != "/" && !slices.Contains(r.buildRoots, parent) {
			r.buildRoots = append(r.buildRoots, parent)
		}
	}
	return r, nil
}

func (r *relocator) problem(rel, format string, args ...any) {
	r.mu.Lock()
	r.problems = append(r.problems, Problem{Path: rel, Reason: fmt.Sprintf(format, args...)})
	r.mu.Unlock()
}

// scan walks the venv and processes regular files on several goroutines.
func (r *relocator) scan() error {
	workers := min(max(runtime.GOMAXPROCS(0), 2), 8)
	jobs := make(chan string, 256)
	var (
		wg       sync.WaitGroup
		failed   atomic.Bool
		firstErr error
		errOnce  sync.Once
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 256<<10)
			for rel := range jobs {
				if failed.Load() {
					continue
				}
				var err error
				if buf, err = r.file(rel, buf); err != nil {
					fail(err)
				}
				if cap(buf) > 16<<20 { // do not pin the memory of one huge file
					buf = make([]byte, 0, 256<<10)
				}
			}
		}()
	}
	walkErr := filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("venv: walking %s: %w", r.v.Dir, err)
		}
		if failed.Load() {
			return filepath.SkipAll
		}
		name := d.Name()
		switch t := d.Type(); {
		case t.IsDir():
			if name == "__pycache__" {
				return filepath.SkipDir
			}
		case t&fs.ModeSymlink != 0:
			return r.symlink(p)
		case t.IsRegular():
			if !strings.HasSuffix(name, ".pyc") {
				jobs <- r.rel(p)
			}
		}
		return nil
	})
	close(jobs)
	wg.Wait()
	if walkErr != nil {
		return walkErr
	}
	return firstErr
}

func (r *relocator) rel(p string) string {
	rel, err := filepath.Rel(r.root, p)
	if err != nil {
		panic(err) // p comes from walking r.root
	}
	return filepath.ToSlash(rel)
}

func (r *relocator) symlink(p string) error {
	target, err := os.Readlink(p)
	if err != nil {
		return fmt.Errorf("venv: %w", err)
	}
	rel := r.rel(p)
	if ref, ok := r.findRef([]byte(target)); ok {
		r.problem(rel, "symlink to %s names the build path; make it relative (ln -sfr) or point it at %s", ref, r.to)
		return nil
	}
	abs := target
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(r.v.Dir, filepath.FromSlash(path.Dir(rel)), target)
	}
	if abs = filepath.Clean(abs); !r.inVenv(abs) && r.inBuildTree(abs) {
		r.problem(rel, "symlink to %s leads out of the virtualenv into the build tree (%s), which the target will not have; copy the files into the virtualenv or package them separately", target, abs)
	}
	return nil
}

// file processes one regular file, reading it into buf (grown as needed and
// returned for reuse). Only RECORD contents and rewritten files are kept.
func (r *relocator) file(rel string, buf []byte) ([]byte, error) {
	full := filepath.Join(r.root, filepath.FromSlash(rel))
	data, err := fsutil.ReadFileLimit(full, buf, maxInMemory)
	if errors.Is(err, fsutil.ErrTooBig) {
		// A large file (a data blob, a bundled library) is scanned in
		// chunks, so memory does not grow with the size of the venv's
		// largest file; it is read whole only if it names the build path.
		found, sum, err := r.streamContains(full)
		if err != nil {
			return buf, err
		}
		if !found {
			r.setSum(rel, sum)
			return buf, nil
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return buf, fmt.Errorf("venv: reading the virtualenv: %w", err)
		}
		r.setSum(rel, sha256.Sum256(data))
		_, err = r.process(rel, data)
		return buf, err
	}
	if err != nil {
		return data, fmt.Errorf("venv: reading the virtualenv: %w", err)
	}
	r.setSum(rel, sha256.Sum256(data))
	return r.process(rel, data)
}

func (r *relocator) setSum(rel string, sum [sha256.Size]byte) {
	k := keyOf(rel)
	r.mu.Lock()
	r.sums[k] = sum
	r.mu.Unlock()
}

// maxInMemory is the largest file relocation reads whole before knowing
// whether it names the build path.
const maxInMemory = 4 << 20

// streamContains reports whether the file at p contains any needle, reading
// it in chunks with an overlap so that matches across chunks are found, and,
// when it does not, the SHA-256 of its content.
func (r *relocator) streamContains(p string) (found bool, sum [sha256.Size]byte, err error) {
	f, err := os.Open(p)
	if err != nil {
		return false, sum, fmt.Errorf("venv: reading the virtualenv: %w", err)
	}
	defer f.Close()
	keep := 0
	for _, n := range r.needles {
		keep = max(keep, len(n)-1)
	}
	const chunk = 1 << 20
	h := sha256.New()
	buf := make([]byte, 0, chunk+keep)
	for {
		n, err := f.Read(buf[len(buf) : len(buf)+chunk])
		h.Write(buf[len(buf) : len(buf)+n])
		buf = buf[:len(buf)+n]
		if r.contains(buf) {
			return true, sum, nil
		}
		if err == io.EOF {
			h.Sum(sum[:0])
			return false, sum, nil
		}
		if err != nil {
			return false, sum, fmt.Errorf("venv: reading the virtualenv: %w", err)
		}
		if len(buf) > keep {
			buf = buf[:copy(buf, buf[len(buf)-keep:])]
		}
	}
}

// process applies the relocation rules to one file's content.
func (r *relocator) process(rel string, data []byte) ([]byte, error) {
	name := path.Base(rel)
	inDistInfo := strings.HasSuffix(path.Dir(rel), ".dist-info")
	switch {
	case name == "RECORD" && inDistInfo:
		r.mu.Lock()
		r.records[rel] = bytes.Clone(data)
		r.mu.Unlock()
	case strings.HasSuffix(name, ".pth") || strings.HasSuffix(name, ".egg-link"):
		r.checkPth(rel, data)
	case name == "direct_url.json" && inDistInfo:
		r.checkDirectURL(rel, data)
	}
	if rel == cfgName {
		r.relocateCfg(data)
		return data, nil
	}
	if !r.contains(data) {
		return data, nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		if ref, ok := r.findRef(data); ok {
			r.problem(rel, "binary file contains %s%s; it cannot be rewritten safely: rebuild it without the build path or exclude it from the package", ref, r.elfHint(data))
		}
		return data, nil
	}
	out, outside := r.rewrite(data)
	if len(outside) > 0 {
		slices.Sort(outside)
		r.problem(rel, "names %s, which start(s) with the virtualenv path but lie outside it; they would keep pointing at the build machine", strings.Join(slices.Compact(outside), ", "))
	}
	if out != nil {
		if n := shebangLen(out); n > maxShebang {
			r.problem(rel, "relocated shebang is %d bytes; Linux before 5.1 (e.g. EL8) reads only %d: choose a shorter install path", n, maxShebang)
		}
		r.setOverride(rel, out)
	}
	return data, nil
}

// maxShebang is the longest "#!" line (without newline) every supported
// kernel executes intact: BINPRM_BUF_SIZE was 128 bytes before Linux 5.1.
const maxShebang = 127

// shebangLen returns the length of a leading "#!" line, or 0.
func shebangLen(data []byte) int {
	if !bytes.HasPrefix(data, []byte("#!")) {
		return 0
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i
	}
	return len(data)
}

func (r *relocator) setOverride(rel string, content []byte) {
	r.mu.Lock()
	r.overrides[rel] = content
	r.mu.Unlock()
}

func (r *relocator) contains(data []byte) bool {
	for _, n := range r.needles {
		if bytes.Contains(data, n) {
			return true
		}
	}
	return false
}

// isNameByte reports whether c can continue a file name component, so that
// a match of /build/venv followed by it is a different path (/build/venv2).
func isNameByte(c byte) bool {
	return c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '+' || c == '~' || c == '@' || c == '%'
}

type refKind int

const (
	refNone    refKind = iota // not a reference (e.g. /chroot/build/venv)
	refVenv                   // the venv or a path inside it
	refOutside                // a sibling path sharing the prefix (/build/venv2)
)

// matchAt classifies the occurrence of a needle at data[i:] and returns the
// needle length for refVenv.
func (r *relocator) matchAt(data []byte, i int) (refKind, int) {
	if i > 0 && isNameByte(data[i-1]) {
		return refNone, 0
	}
	kind := refNone
	for _, n := range r.needles { // longest first
		if !bytes.HasPrefix(data[i:], n) {
			continue
		}
		if end := i + len(n); end == len(data) || !isNameByte(data[end]) {
			return refVenv, len(n)
		}
		kind = refOutside
	}
	return kind, 0
}

// nextMatch returns the smallest index ≥ from where any needle occurs, or -1.
func (r *relocator) nextMatch(data []byte, from int) int {
	best := -1
	for _, n := range r.needles {
		if j := bytes.Index(data[from:], n); j >= 0 && (best < 0 || from+j < best) {
			best = from + j
		}
	}
	return best
}

// findRef returns the first reference to the venv (or an outside sibling)
// in data, as a short string for messages.
func (r *relocator) findRef(data []byte) (string, bool) {
	for i := r.nextMatch(data, 0); i >= 0; i = r.nextMatch(data, i+1) {
		if k, _ := r.matchAt(data, i); k != refNone {
			return token(data, i), true
		}
	}
	return "", false
}

// token returns the path-like text starting at data[i], at most 120 bytes.
func token(data []byte, i int) string {
	j := i
	for j < len(data) && j-i < 120 && (isNameByte(data[j]) || data[j] == '/') {
		j++
	}
	return string(data[i:j])
}

// rewrite replaces every venv reference in data with r.to. It returns nil if
// nothing changed, and the sibling paths it refused to touch.
func (r *relocator) rewrite(data []byte) (out []byte, outside []string) {
	last := 0
	for i := r.nextMatch(data, 0); i >= 0; {
		kind, n := r.matchAt(data, i)
		switch kind {
		case refVenv:
			if out == nil {
				out = make([]byte, 0, len(data)+len(r.to)*2)
			}
			out = append(out, data[last:i]...)
			out = append(out, r.to...)
			last = i + n
			i = r.nextMatch(data, last)
			continue
		case refOutside:
			outside = append(outside, token(data, i))
		}
		i = r.nextMatch(data, i+1)
	}
	if out == nil {
		return nil, outside
	}
	out = append(out, data[last:]...)
	if bytes.Equal(out, data) { // to == Dir
		return nil, outside
	}
	return out, outside
}

// relocateCfg rewrites pyvenv.cfg keys that name the venv and checks that the
// base interpreter is not inside the venv or the build tree.
func (r *relocator) relocateCfg(data []byte) {
	var out []byte
	changed := false
	for line := range bytes.Lines(data) {
		k, val, ok := bytes.Cut(line, []byte("="))
		key := strings.ToLower(string(bytes.TrimSpace(k)))
		if ok && interpreterKeys[key] {
			p := filepath.Clean(string(bytes.TrimSpace(val)))
			if filepath.IsAbs(p) && (r.inVenv(p) || r.inBuildTree(p)) {
				r.problem(cfgName, "%q = %s is on the build machine only; create the virtualenv from an interpreter the target has, e.g. /usr/bin/python%s -m venv", key, p, r.v.PyVersion)
			}
			out = append(out, line...)
			continue
		}
		nl, outside := r.rewrite(line)
		for _, o := range outside {
			r.problem(cfgName, "%q names %s, outside the virtualenv", key, o)
		}
		if nl != nil {
			line, changed = nl, true
		}
		out = append(out, line...)
	}
	if changed {
		r.setOverride(cfgName, out)
	}
}

func (r *relocator) inVenv(p string) bool {
	for _, pre := range r.prefixes {
		if within(p, pre) {
			return true
		}
	}
	return false
}

func (r *relocator) inBuildTree(p string) bool {
	for _, b := range r.buildRoots {
		if within(p, b) {
			return true
		}
	}
	return false
}

// editableHint is appended to problems about editable installs.
const editableHint = "editable installs (pip install -e, setup.py develop) cannot be packaged: install the project normally (pip install <dir>, without -e) or ship its source separately"

// checkPth reports path entries of a .pth or .egg-link file that lead into
// the build tree outside the venv. Relative entries are resolved against the
// file's directory, as Python's site module does.
func (r *relocator) checkPth(rel string, data []byte) {
	dir := filepath.Join(r.v.Dir, filepath.FromSlash(path.Dir(rel)))
	n := 0
	for line := range bytes.Lines(data) {
		n++
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' || strings.HasPrefix(s, "import ") || strings.HasPrefix(s, "import\t") {
			continue
		}
		p := s
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		p = filepath.Clean(p)
		if !r.inVenv(p) && r.inBuildTree(p) {
			r.problem(rel, "line %d adds %s, outside the virtualenv in the build tree; %s", n, p, editableHint)
		}
		if strings.HasSuffix(rel, ".egg-link") {
			return // only the first line of an egg-link is a path
		}
	}
}

// checkDirectURL reports a PEP 610 direct_url.json whose file: URL points
// outside the venv: always for an editable install (the target will not have
// the source tree), and for any install from the build tree.
func (r *relocator) checkDirectURL(rel string, data []byte) {
	var du struct {
		URL     string `json:"url"`
		DirInfo struct {
			Editable bool `json:"editable"`
		} `json:"dir_info"`
	}
	if json.Unmarshal(data, &du) != nil {
		return // not ours to validate; pip ignores it too
	}
	u, err := url.Parse(du.URL)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return
	}
	p := filepath.Clean(u.Path)
	switch {
	case r.inVenv(p):
	case du.DirInfo.Editable:
		r.problem(rel, "records an editable install of %s; %s", p, editableHint)
	case r.inBuildTree(p):
		r.problem(rel, "records an install from %s in the build tree; install it by name from a local index (pip install --no-index --find-links <dir> <name>) so pip does not record the build path", p)
	}
}

// elfHint names the RPATH/RUNPATH of an ELF file if it holds the reference.
func (r *relocator) elfHint(data []byte) string {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			if r.contains([]byte(v)) {
				return fmt.Sprintf(" (ELF %v %q; relink with an $ORIGIN-relative rpath or run patchelf --set-rpath)", tag, v)
			}
		}
	}
	return ""
}
