package rpm

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
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

// file is an Entry prepared for writing, at index fx of the header's file list.
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

// prepareFiles validates entries and returns them sorted by path.
func prepareFiles(entries []Entry) ([]file, error) {
	files := make([]file, len(entries))
	for i := range entries {
		f, err := prepareFile(&entries[i])
		if err != nil {
			return nil, err
		}
		files[i] = f
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.Path, b.Path) })
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path {
			return nil, fmt.Errorf("rpm: %s: listed twice", files[i].Path)
		}
	}
	return files, nil
}

func prepareFile(e *Entry) (file, error) {
	f := file{Entry: e, flags: e.Flags, verifyMask: verifyAll}
	p := e.Path
	switch {
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
		if e.Open == nil && e.Size != 0 && e.Flags&FileGhost == 0 {
			return f, fmt.Errorf("rpm: %s: regular file of %d bytes has no Open", p, e.Size)
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
		if e.Link == "" || strings.ContainsAny(e.Link, "\x00\n") || !utf8.ValidString(e.Link) {
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
		if strings.ContainsAny(n, " \t\n\x00:/") || !utf8.ValidString(n) {
			return f, fmt.Errorf("rpm: %s: invalid owner or group %q", p, n)
		}
	}

	f.inPayload = e.Flags&FileGhost == 0
	if !f.inPayload {
		f.verifyMask &^= verifyFileDigest | verifyFileSize | verifyLinkTo | verifyMTime
	}
	return f, nil
}
