package rpm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
)

// largeLimit is the size from which rpm switches to 64-bit size tags and
// stripped cpio headers (UINT32_MAX). Tests lower it.
var largeLimit int64 = 1<<32 - 1

// Options tunes Write.
type Options struct {
	TempDir  string                            // for the compressed payload; "" = os.TempDir()
	Signer   Signer                            // nil = unsigned
	Progress func(doneBytes, totalBytes int64) // bytes of file contents packed so far; may be nil
	// Open, when set, opens the contents of regular files whose Entry.Open
	// is nil (a payload builder serving thousands of files from disk needs
	// no closure per file then). It is called from one goroutine, in path
	// order, once per file.
	Open func(e *Entry) (io.ReadCloser, error)
	// Sync, when the output is an *os.File, flushes it to disk (fsync)
	// before Write returns, at the same time as the last pass that hashes
	// it.
	Sync bool
}

// Result describes a written package.
type Result struct {
	Size   int64  // bytes of the whole output file
	SHA256 string // hex SHA-256 of the whole output file

	HeaderSHA256  string // hex SHA-256 of the main header (SHA256HEADER)
	PayloadSHA256 string // hex SHA-256 of the compressed payload (PAYLOADDIGEST)

	Requires      []Relation // final list written, including auto rpmlib()/interpreter ones
	Provides      []Relation // final list written, including the self-provides
	Files         int
	InstalledSize int64 // SIZE: bytes of regular files and symlink targets

	HeaderStart, HeaderEnd int64 // byte range of the main header in the file (repodata's rpm:header-range)
}

// Write writes a complete RPM to w. Nothing is written to w unless the
// payload was produced successfully. Entries are sorted by path; md and the
// entries are validated before any file is opened.
func Write(ctx context.Context, w io.Writer, md Metadata, entries []Entry, opt Options) (*Result, error) {
	if err := md.Validate(); err != nil {
		return nil, err
	}
	src, err := newSliceSource(entries)
	if err != nil {
		return nil, err
	}
	return WriteSource(ctx, w, md, src, opt)
}

// WriteSource is Write with the entries read from src, already in path
// order: the writer keeps no per-file state but a digest and a color
// (33 bytes), and spools the header, like the payload, to a temp file.
func WriteSource(ctx context.Context, w io.Writer, md Metadata, src Source, opt Options) (*Result, error) {
	if err := md.Validate(); err != nil {
		return nil, err
	}
	comp, err := parseCompression(md.Compression)
	if err != nil {
		return nil, err
	}
	md = md.withDefaults()
	files, err := newFileList(src, opt.Open)
	if err != nil {
		return nil, err
	}
	largeFiles := files.largeFiles
	if err := files.startSums(opt.TempDir); err != nil {
		return nil, err
	}
	defer files.closeSums()

	collect() // what the caller built the entries with is garbage by now

	tmp, removeTmp, err := tempFile(opt.TempDir, "payload")
	if err != nil {
		return nil, err
	}
	defer removeTmp()
	pl, err := writePayload(ctx, tmp, files, comp, largeFiles, opt.Progress)
	if err != nil {
		return nil, err
	}
	payload := func() *io.SectionReader { return io.NewSectionReader(tmp, 0, pl.compressedSize) }
	// The payload pass leaves its buffers behind (see collect).
	collect()

	deps := resolveDeps(&md, files.hasConfig, comp, largeFiles)
	mh, err := mainHeader(&md, files, deps, comp, pl, largeFiles)
	if err != nil {
		return nil, err
	}
	hdrFile, removeHdr, err := tempFile(opt.TempDir, "header")
	if err != nil {
		return nil, err
	}
	defer removeHdr()
	hdrLen, err := mh.marshalFile(tagHeaderImmutable, hdrFile)
	if err != nil {
		return nil, err
	}
	mh = nil
	hdr := io.NewSectionReader(hdrFile, 0, hdrLen)
	nfiles, installed := files.len(), files.installed
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ld := lead(md.Name+"-"+md.evr(), md.Arch)
	var sums fileSums
	if f, ok := w.(*os.File); ok {
		sums, err = writeOverlapped(f, ld, hdr, tmp, pl, opt.Signer, opt.Sync)
	} else {
		sums, err = writeInOrder(w, ld, hdr, payload(), pl, opt.Signer)
	}
	if err != nil {
		return nil, err
	}
	return &Result{
		Size:          sums.size,
		SHA256:        sums.file,
		HeaderSHA256:  sums.header,
		PayloadSHA256: pl.digest,
		Requires:      deps.requires,
		Provides:      deps.provides,
		Files:         nfiles,
		InstalledSize: installed,
		HeaderStart:   int64(len(ld)) + sums.sigLen,
		HeaderEnd:     int64(len(ld)) + sums.sigLen + hdrLen,
	}, nil
}

// tempFile creates a scratch file for what (payload, header, digests) in
// dir and returns it with the function that closes and removes it.
func tempFile(dir, what string) (*os.File, func(), error) {
	f, err := os.CreateTemp(dir, "rpmforge-"+what+"-*")
	if err != nil {
		return nil, nil, fmt.Errorf("rpm: %s temp file: %w", what, err)
	}
	return f, func() {
		f.Close()
		os.Remove(f.Name())
	}, nil
}

// predictSignatureSize is signatureSize; tests make it wrong to check the
// copy is redone.
var predictSignatureSize = signatureSize

// fileSums is what writing the package's parts learnt about the output.
type fileSums struct {
	size   int64  // bytes
	sigLen int64  // of the signature header
	file   string // hex SHA-256 of the whole file
	header string // hex SHA-256 of the main header
}

// tailBufSize is the read size of the passes over the spooled header and
// payload after the payload pass (pread per buffer).
const tailBufSize = 1 << 20

// writeInOrder writes lead, signature header, main header and payload to w
// one after the other: the signature (MD5 of header+payload) first, then
// a second pass copying and hashing.
func writeInOrder(w io.Writer, ld []byte, hdr *io.SectionReader, payload *io.SectionReader, pl payloadInfo, signer Signer) (fileSums, error) {
	sig, hsum, err := newSignatureHeader(hdr, payload, pl.compressedSize, pl.archiveSize, signer)
	if err != nil {
		return fileSums{}, err
	}
	out := &hashCounter{w: w, h: sha256.New()}
	for _, b := range [][]byte{ld, sig} {
		if _, err := out.Write(b); err != nil {
			return fileSums{}, fmt.Errorf("rpm: writing package: %w", err)
		}
	}
	buf := make([]byte, tailBufSize)
	for _, part := range []*io.SectionReader{hdr, payload} {
		if _, err := io.CopyBuffer(out, io.NewSectionReader(part, 0, part.Size()), buf); err != nil {
			return fileSums{}, fmt.Errorf("rpm: writing package: %w", err)
		}
	}
	return fileSums{size: out.n, sigLen: int64(len(sig)), file: hexSum(out.h), header: hsum}, nil
}

// writeOverlapped writes the package into the file f (from its current
// offset) with the two slow steps of the tail at once: while one goroutine
// computes the signature header (the MD5 of header+payload, and the
// signatures), the header and payload are copied into place after where
// the signature header will go (copy_file_range where the kernel can). The
// signature header's size is known before its content: RESERVEDSPACE pads
// it to a fixed size, as rpmsign relies on. Only if the signatures outgrow
// the reserve (or sizes need 64 bits) is the copy redone at the right
// offset. A last pass hashes the file as written.
func writeOverlapped(f *os.File, ld []byte, hdr *io.SectionReader, payloadFile *os.File, pl payloadInfo, signer Signer, sync bool) (fileSums, error) {
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil || appendOnly(f) { // a pipe, a terminal; O_APPEND refuses WriteAt
		sums, err := writeInOrder(f, ld, hdr, io.NewSectionReader(payloadFile, 0, pl.compressedSize), pl, signer)
		if err == nil && sync {
			err = f.Sync()
		}
		return sums, err
	}
	predicted, err := predictSignatureSize()
	if err != nil {
		return fileSums{}, err
	}
	type sigResult struct {
		sig  []byte
		hsum string
		err  error
	}
	sigc := make(chan sigResult, 1)
	go func() {
		sig, hsum, err := newSignatureHeader(hdr, io.NewSectionReader(payloadFile, 0, pl.compressedSize), pl.compressedSize, pl.archiveSize, signer)
		sigc <- sigResult{sig, hsum, err}
	}()
	copyBody := func(sigLen int64) error {
		if _, err := f.Seek(start+int64(len(ld))+sigLen, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.CopyBuffer(f, io.NewSectionReader(hdr, 0, hdr.Size()), make([]byte, 64<<10)); err != nil {
			return err
		}
		if _, err := payloadFile.Seek(0, io.SeekStart); err != nil {
			return err
		}
		// *os.File to *os.File: copy_file_range, no copy through user space.
		_, err := f.ReadFrom(io.LimitReader(payloadFile, pl.compressedSize))
		return err
	}
	cerr := copyBody(int64(predicted))
	r := <-sigc
	if r.err != nil {
		return fileSums{}, r.err
	}
	if cerr != nil {
		return fileSums{}, fmt.Errorf("rpm: writing package: %w", cerr)
	}
	sig := r.sig
	if len(sig) != predicted {
		if err := copyBody(int64(len(sig))); err != nil {
			return fileSums{}, fmt.Errorf("rpm: writing package: %w", err)
		}
	}
	if _, err := f.WriteAt(append(append([]byte{}, ld...), sig...), start); err != nil {
		return fileSums{}, fmt.Errorf("rpm: writing package: %w", err)
	}
	size := int64(len(ld)+len(sig)) + hdr.Size() + pl.compressedSize
	if err := f.Truncate(start + size); err != nil { // a redone copy was shorter
		return fileSums{}, fmt.Errorf("rpm: writing package: %w", err)
	}
	if _, err := f.Seek(start+size, io.SeekStart); err != nil {
		return fileSums{}, fmt.Errorf("rpm: writing package: %w", err)
	}
	synced := make(chan error, 1)
	if sync {
		go func() { synced <- f.Sync() }()
	} else {
		synced <- nil
	}
	// The file's digest, from the parts (the same bytes, in the page cache).
	h := sha256.New()
	h.Write(ld)
	h.Write(sig)
	buf := make([]byte, tailBufSize)
	for _, part := range []*io.SectionReader{hdr, io.NewSectionReader(payloadFile, 0, pl.compressedSize)} {
		if _, err := io.CopyBuffer(h, io.NewSectionReader(part, 0, part.Size()), buf); err != nil {
			<-synced
			return fileSums{}, fmt.Errorf("rpm: reading the spooled package: %w", err)
		}
	}
	if err := <-synced; err != nil {
		return fileSums{}, fmt.Errorf("rpm: writing package: %w", err)
	}
	return fileSums{size: size, sigLen: int64(len(sig)), file: hexSum(h), header: r.hsum}, nil
}

// collect runs the garbage collector at the two points where Write's live
// heap is smallest relative to what comes next: before the payload pass
// (whose compressor and read-ahead buffers, about 12 MB, come on top of the
// file list) and before the header is built (a few hundred bytes per file
// more). The GC lets the heap grow to twice what was live after its last
// cycle, and the last cycle before these points still counted the caller's
// garbage; collecting here keeps peak RSS about 20 MB lower on a venv of
// 30k files, for some 10 ms of CPU per cycle. Twice, because sync.Pools (the
// compressors') keep their contents through one cycle.
func collect() {
	runtime.GC()
	runtime.GC()
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
