package rpm

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// FileFlag holds rpm's RPMFILE_* attributes of a payload file.
type FileFlag uint32

// File attributes, with rpm's values (include/rpm/rpmfiles.h).
const (
	FileConfig    FileFlag = 1 << 0 // %config
	FileDoc       FileFlag = 1 << 1 // %doc
	FileMissingOK FileFlag = 1 << 3 // %config(missingok)
	FileNoReplace FileFlag = 1 << 4 // %config(noreplace)
	FileGhost     FileFlag = 1 << 6 // %ghost: owned, not in the payload
	FileLicense   FileFlag = 1 << 7 // %license
)

// Entry is one payload file. Entries carry metadata only; Open is called
// lazily, once, while writing.
type Entry struct {
	Path         string      // absolute install path, clean ("/opt/x/venv/bin/python")
	Mode         fs.FileMode // type bits (fs.ModeDir, fs.ModeSymlink, 0 for regular) + perm + setuid/setgid/sticky
	Owner, Group string      // "" means root
	MTime        time.Time
	Size         int64  // regular files: exact number of bytes Open yields (a mismatch is an error)
	Link         string // symlink target
	Flags        FileFlag
	// Ref is the caller's own reference to the file, for Options.Open; the
	// writer does not interpret it.
	Ref uint32
	// Open returns the contents of a regular file. It may be nil for an
	// empty file or a %ghost.
	Open func() (io.ReadCloser, error)
}

// Unix file type and mode bits, as stored in FILEMODES and cpio headers.
const (
	modeRegular = 0o100000
	modeDir     = 0o040000
	modeSymlink = 0o120000
)

// file is an Entry prepared for writing, at index fx of the header's file
// list. It is derived again from its Entry whenever it is needed (see
// fileList.at) rather than kept per file: on a venv of 100k files a slice
// of these was tens of MB at the writer's peak.
type file struct {
	*Entry
	mode       uint32 // unix mode
	size       int64  // FILESIZES value: content size, link length, 0 for directories
	mtime      uint32
	user       string
	group      string
	flags      FileFlag
	dir, base  string
	inPayload  bool              // everything but %ghost
	sum        [sha256.Size]byte // SHA-256 of regular files, filled by the payload pass
	hasSum     bool              // sum is set (regular files in the payload)
	color      uint32            // 1 for ELF32, 2 for ELF64, filled by the payload pass
	isRegular  bool
	isSymlink  bool
	verifyMask uint32
}

// Source is a package's file list for WriteSource, for callers that keep
// it elsewhere than in a []Entry (a payload builder spooling 100k files to
// disk): the entries in strictly increasing path order, which the writer
// reads several times, from more than one goroutine at once.
type Source interface {
	Len() int
	// Each calls fn for every entry in path order, i being its position;
	// e is only valid during the call. It stops at, and returns, the first
	// error of fn.
	Each(fn func(i int, e *Entry) error) error
}

// sliceSource is a []Entry in path order through a permutation (Write
// leaves the caller's slice as it is).
type sliceSource struct {
	entries []Entry
	order   []int32
}

func (s *sliceSource) Len() int { return len(s.order) }

func (s *sliceSource) Each(fn func(i int, e *Entry) error) error {
	for i, x := range s.order {
		if err := fn(i, &s.entries[x]); err != nil {
			return err
		}
	}
	return nil
}

func newSliceSource(entries []Entry) (*sliceSource, error) {
	if len(entries) > 1<<31-1 {
		return nil, fmt.Errorf("rpm: too many files (%d)", len(entries))
	}
	s := &sliceSource{entries: entries, order: make([]int32, len(entries))}
	for i := range entries {
		// Validated here too, so that an invalid path is reported as such
		// rather than as misordered.
		if _, err := prepareFile(&entries[i]); err != nil {
			return nil, err
		}
		s.order[i] = int32(i)
	}
	slices.SortFunc(s.order, func(a, b int32) int { return strings.Compare(entries[a].Path, entries[b].Path) })
	return s, nil
}

// fileList is the writer's view of the entries: a Source, prepared entry
// by entry as it is read (nothing per file is kept but what the payload
// pass learns: digest and color, compactly).
type fileList struct {
	src Source
	n   int
	// sums holds, for each regular file in the payload in path order, its
	// SHA-256 and color (sumRecord bytes), written by the payload pass: a
	// temp file, as the header reads them back in order.
	sums       *os.File
	sumsW      *bufio.Writer
	removeSums func()
	nsums      int
	open       func(*Entry) (io.ReadCloser, error)

	checked    bool  // every entry validated (by newFileList)
	largeFiles bool  // some regular file needs 64-bit sizes
	hasConfig  bool  // some file is %config
	installed  int64 // SIZE: bytes of regular files and symlink targets
	// payloadBytes is the size of the regular files' contents in the payload.
	payloadBytes int64
}

func (l *fileList) len() int { return l.n }

// each calls fn with every file in path order (without digest and color).
func (l *fileList) each(fn func(i int, f *file) error) error {
	return l.src.Each(func(i int, e *Entry) error {
		f, err := prepare(e, !l.checked)
		if err != nil {
			return err
		}
		return fn(i, &f)
	})
}

// sumRecord is the size of a record of fileList.sums: digest, color.
const sumRecord = sha256.Size + 1

// startSums creates the file of digests the payload pass fills.
func (l *fileList) startSums(dir string) error {
	f, remove, err := tempFile(dir, "digests")
	if err != nil {
		return err
	}
	l.sums, l.sumsW, l.removeSums = f, bufio.NewWriterSize(f, 32<<10), remove
	return nil
}

// closeSums removes the file of digests.
func (l *fileList) closeSums() {
	if l.sums != nil {
		l.removeSums()
		l.sums, l.sumsW = nil, nil
	}
}

// addSum records the digest and color of the next regular file in the payload.
func (l *fileList) addSum(sum *[sha256.Size]byte, color uint32) error {
	l.sumsW.Write(sum[:])
	l.nsums++
	if err := l.sumsW.WriteByte(byte(color)); err != nil {
		return fmt.Errorf("rpm: digests temp file: %w", err)
	}
	return nil
}

// eachWithSum is each with the digest and color the payload pass recorded.
func (l *fileList) eachWithSum(fn func(i int, f *file) error) error {
	if err := l.sumsW.Flush(); err != nil {
		return fmt.Errorf("rpm: digests temp file: %w", err)
	}
	r := bufio.NewReaderSize(io.NewSectionReader(l.sums, 0, int64(l.nsums)*sumRecord), 32<<10)
	var rec [sumRecord]byte
	return l.each(func(i int, f *file) error {
		if i >= l.n {
			return errSourceChanged
		}
		if f.isRegular && f.inPayload {
			if _, err := io.ReadFull(r, rec[:]); err != nil {
				return errSourceChanged
			}
			copy(f.sum[:], rec[:sha256.Size])
			f.hasSum, f.color = true, uint32(rec[sha256.Size])
		}
		return fn(i, f)
	})
}

var errSourceChanged = errors.New("rpm: internal error: the file list changed while writing")

// newFileList validates the entries of src (in one pass, before any file
// is opened) and checks their order.
func newFileList(src Source, open func(*Entry) (io.ReadCloser, error)) (*fileList, error) {
	l := &fileList{src: src, n: src.Len(), open: open}
	if l.n > 1<<31-1 {
		return nil, fmt.Errorf("rpm: too many files (%d)", l.n)
	}
	var prev string
	count := 0
	err := l.each(func(i int, f *file) error {
		if i != count {
			return errSourceChanged
		}
		count++
		if i > 0 {
			switch c := strings.Compare(prev, f.Path); {
			case c == 0:
				return fmt.Errorf("rpm: %s: listed twice", f.Path)
			case c > 0:
				return fmt.Errorf("rpm: internal error: %s listed after %s", f.Path, prev)
			}
		}
		prev = f.Path
		if f.isRegular && f.Open == nil && open == nil && f.size != 0 && f.Flags&FileGhost == 0 {
			return fmt.Errorf("rpm: %s: regular file of %d bytes has no Open", f.Path, f.size)
		}
		if f.isRegular && f.size >= largeLimit {
			l.largeFiles = true
		}
		if f.flags&FileConfig != 0 {
			l.hasConfig = true
		}
		if f.isRegular || f.isSymlink {
			l.installed += f.size
		}
		if f.isRegular && f.inPayload {
			l.payloadBytes += f.size
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if count != l.n {
		return nil, errSourceChanged
	}
	l.checked = true
	return l, nil
}

func prepareFile(e *Entry) (file, error) { return prepare(e, true) }

// prepare derives the writer's view of e. With check it also validates the
// strings (path, link target, owner): the first pass over a file list does,
// the later ones (the list is read about six times) skip what it already
// checked.
func prepare(e *Entry, check bool) (file, error) {
	f := file{Entry: e, flags: e.Flags, verifyMask: verifyAll}
	p := e.Path
	switch {
	case !check:
	case p == "" || p[0] != '/' || p == "/":
		return f, fmt.Errorf("rpm: %q: path must be absolute and not /", p)
	case path.Clean(p) != p:
		return f, fmt.Errorf("rpm: %s: path is not clean (want %s)", p, path.Clean(p))
	case !utf8.ValidString(p) || strings.ContainsAny(p, "\x00\n"):
		return f, fmt.Errorf("rpm: %q: path must be UTF-8 without NUL or newline", p)
	}
	i := strings.LastIndexByte(p, '/')
	f.dir, f.base = p[:i+1], p[i+1:]

	perm := uint32(e.Mode.Perm())
	if e.Mode&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if e.Mode&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if e.Mode&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	switch e.Mode.Type() {
	case 0:
		f.isRegular = true
		f.mode = modeRegular | perm
		f.size = e.Size
		if e.Size < 0 {
			return f, fmt.Errorf("rpm: %s: negative size %d", p, e.Size)
		}
	case fs.ModeDir:
		f.mode = modeDir | perm
		// rpm keeps no %config, %doc or %license on directories.
		f.flags &^= FileConfig | FileDoc | FileLicense
	case fs.ModeSymlink:
		f.isSymlink = true
		if perm&0o777 == 0 {
			perm |= 0o777
		}
		f.mode = modeSymlink | perm
		if check && (e.Link == "" || strings.ContainsAny(e.Link, "\x00\n") || !utf8.ValidString(e.Link)) {
			return f, fmt.Errorf("rpm: %s: symlink target %q must be non-empty UTF-8 without NUL or newline", p, e.Link)
		}
		f.size = int64(len(e.Link))
	default:
		return f, fmt.Errorf("rpm: %s: unsupported file type %s", p, e.Mode.Type())
	}

	t := e.MTime.Unix()
	if e.MTime.IsZero() || t < 0 {
		t = 0
	}
	if t > 1<<32-1 {
		return f, fmt.Errorf("rpm: %s: mtime %s is outside the 32-bit range rpm stores", p, e.MTime)
	}
	f.mtime = uint32(t)

	f.user, f.group = e.Owner, e.Group
	if f.user == "" {
		f.user = "root"
	}
	if f.group == "" {
		f.group = "root"
	}
	for _, n := range []string{f.user, f.group} {
		if check && (strings.ContainsAny(n, " \t\n\x00:/") || !utf8.ValidString(n)) {
			return f, fmt.Errorf("rpm: %s: invalid owner or group %q", p, n)
		}
	}

	f.inPayload = e.Flags&FileGhost == 0
	if !f.inPayload {
		f.verifyMask &^= verifyFileDigest | verifyFileSize | verifyLinkTo | verifyMTime
	}
	return f, nil
}
