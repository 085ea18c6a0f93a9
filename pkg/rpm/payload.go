package rpm

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// payloadInfo describes the compressed payload written by writePayload.
type payloadInfo struct {
	archiveSize    int64  // uncompressed cpio bytes (PAYLOADSIZE)
	compressedSize int64  // bytes written to the temp file
	digest         string // hex SHA-256 of the compressed payload (PAYLOADDIGEST)
	altDigest      string // hex SHA-256 of the uncompressed archive (PAYLOADDIGESTALT)
}

// hashCounter hashes and counts what is written through it.
type hashCounter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hc *hashCounter) Write(p []byte) (int, error) {
	hc.h.Write(p)
	n, err := hc.w.Write(p)
	hc.n += int64(n)
	return n, err
}

const copyBufSize = 256 << 10

// writePayload streams files into a compressed cpio archive written to out,
// filling in each file's digest and color. Memory use does not depend on the
// size of the files.
//
// Three stages run at once: a reader goroutine opens, reads and hashes the
// files in order (see readAhead); this goroutine frames them as cpio and
// feeds the compressor; the compressor's own goroutines compress. The
// reader works at most readAheadBytes ahead.
func writePayload(ctx context.Context, out io.Writer, files *fileList, comp compression, stripped bool, progress func(done, total int64)) (payloadInfo, error) {
	var info payloadInfo

	compressed := &hashCounter{w: out, h: sha256.New()}
	zw, err := comp.newWriter(compressed)
	if err != nil {
		return info, fmt.Errorf("rpm: payload compressor: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			zw.Close() // stops the compressor's goroutines
		}
	}()
	uncompressed := &hashCounter{w: zw, h: sha256.New()}
	bw := bufio.NewWriterSize(uncompressed, copyBufSize)
	arc := &cpio{w: bw}

	var total, done int64
	total = files.payloadBytes
	report := func() {
		if progress != nil {
			progress(done, total)
		}
	}
	report()

	ra := startReadAhead(ctx, files)
	defer ra.stop()

	err = files.each(func(i int, f *file) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !f.inPayload {
			return nil
		}
		// The digest of an empty file is that of no bytes.
		sum, color := emptySum, uint32(0)
		var err error
		if stripped {
			err = arc.stripped(i)
		} else {
			err = arc.header(uint32(i+1), f.mode, f.mtime, f.size, f.Path)
		}
		if err != nil {
			return payloadErr(f, err)
		}
		switch {
		case f.isSymlink:
			if err := arc.write([]byte(f.Link)); err != nil {
				return payloadErr(f, err)
			}
		case readsContent(f, files.open != nil):
			for {
				it, err := ra.next(i)
				if err != nil {
					return err
				}
				if len(it.data) > 0 {
					if werr := arc.write(it.data); werr != nil {
						return payloadErr(f, werr)
					}
					done += int64(len(it.data))
					report()
				}
				if it.last {
					sum, color = it.sum, it.color
					break
				}
			}
		}
		if f.isRegular {
			return files.addSum(&sum, color)
		}
		return nil
	})
	if err != nil {
		return info, err
	}
	if err := arc.trailer(); err != nil {
		return info, fmt.Errorf("rpm: payload: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return info, fmt.Errorf("rpm: payload: %w", err)
	}
	closed = true
	if err := zw.Close(); err != nil {
		return info, fmt.Errorf("rpm: payload compressor: %w", err)
	}
	info.archiveSize = arc.off
	info.compressedSize = compressed.n
	info.digest = hex.EncodeToString(compressed.h.Sum(nil))
	info.altDigest = hex.EncodeToString(uncompressed.h.Sum(nil))
	report()
	return info, nil
}

var emptySum = sha256.Sum256(nil)

func payloadErr(f *file, err error) error {
	return fmt.Errorf("rpm: %s: writing payload: %w", f.Path, err)
}

// readsContent reports whether f's contents go into the payload through
// its Open or Options.Open (an empty file without either has none to read).
func readsContent(f *file, opener bool) bool {
	return f.inPayload && f.isRegular && (f.size > 0 || f.Open != nil || opener)
}

// readAheadBytes bounds the file contents read but not yet archived, and
// readAheadChunk is the size of one read.
const (
	readAheadBytes = 2 << 20
	readAheadChunk = copyBufSize
)

// chunk is a piece of one file's contents, in order. The last chunk of a
// file carries its digest and color, or the error that stopped reading it.
type chunk struct {
	fx    int
	data  []byte
	last  bool
	sum   [sha256.Size]byte
	color uint32
	err   error
}

// batch groups chunks (of small files, usually many) in one buffer, so
// that handing them over costs one channel operation per buffer, not per
// file.
type batch struct {
	chunks []chunk
	buf    []byte
	pos    int // next chunk of chunks to hand out
}

// readAhead is the reader goroutine of writePayload. It calls Open on one
// goroutine, in file order, one file at a time, as a plain loop would.
type readAhead struct {
	h     hash.Hash   // SHA-256, reset for each file
	full  chan *batch // filled batches, in order; closed at the end or on error
	free  chan *batch // empty batches; their number bounds memory
	quit  chan struct{}
	done  chan struct{}
	cur   *batch
	ended bool
}

func startReadAhead(ctx context.Context, files *fileList) *readAhead {
	n := readAheadBytes / readAheadChunk
	ra := &readAhead{
		full: make(chan *batch, n),
		free: make(chan *batch, n),
		quit: make(chan struct{}),
		done: make(chan struct{}),
		h:    sha256.New(),
	}
	for range n {
		ra.free <- &batch{buf: make([]byte, 0, readAheadChunk)}
	}
	go ra.run(ctx, files)
	return ra
}

// stop ends the reader goroutine and waits for it (it closes any open file).
func (ra *readAhead) stop() {
	close(ra.quit)
	<-ra.done
}

// next returns the next chunk of file fx.
func (ra *readAhead) next(fx int) (chunk, error) {
	for ra.cur == nil || ra.cur.pos == len(ra.cur.chunks) {
		if ra.cur != nil {
			ra.cur.chunks, ra.cur.buf, ra.cur.pos = ra.cur.chunks[:0], ra.cur.buf[:0], 0
			ra.free <- ra.cur // never blocks: free has room for every batch
			ra.cur = nil
		}
		b, ok := <-ra.full
		if !ok {
			return chunk{}, fmt.Errorf("rpm: internal error: read-ahead ended before file %d", fx)
		}
		ra.cur = b
	}
	c := ra.cur.chunks[ra.cur.pos]
	ra.cur.pos++
	if c.fx == -1 && c.err != nil {
		return chunk{}, c.err
	}
	if c.fx != fx {
		return chunk{}, fmt.Errorf("rpm: internal error: read-ahead gave file %d for %d", c.fx, fx)
	}
	if c.err != nil {
		return chunk{}, c.err
	}
	return c, nil
}

// errStopped ends the reader's walk of the file list.
var errStopped = errors.New("rpm: read-ahead stopped")

func (ra *readAhead) run(ctx context.Context, files *fileList) {
	defer close(ra.done)
	defer close(ra.full)
	var b *batch
	// get returns a batch with room for n more bytes, handing over the
	// current one if it lacks the room; false when stopped.
	get := func(n int) bool {
		if b != nil && cap(b.buf)-len(b.buf) >= n && len(b.chunks) < 512 {
			return true
		}
		if b != nil && !ra.send(b) {
			return false
		}
		select {
		case b = <-ra.free:
			return true
		case <-ra.quit:
			b = nil
			return false
		}
	}
	err := files.each(func(i int, f *file) error {
		if !readsContent(f, files.open != nil) {
			return nil
		}
		if !get(int(min(f.size, readAheadChunk))) {
			return errStopped
		}
		if !ra.readFile(ctx, i, f, files.open, &b, get) {
			return errStopped
		}
		return nil
	})
	if errors.Is(err, errStopped) {
		return
	}
	if err != nil { // the list could not be read again
		if get(0) {
			b.chunks = append(b.chunks, chunk{fx: -1, last: true, err: err})
			ra.send(b)
		}
		return
	}
	if b != nil && len(b.chunks) > 0 {
		ra.send(b)
	}
}

// send hands b over; false when stopped.
func (ra *readAhead) send(b *batch) bool {
	select {
	case ra.full <- b:
		return true
	case <-ra.quit:
		return false
	}
}

// readFile reads f into batches: in one chunk if it fits in the current
// batch, else in chunks of up to readAheadChunk bytes. It checks that
// exactly f.size bytes come out of Open. It returns false when reading must
// stop (an error, already queued, or stop).
func (ra *readAhead) readFile(ctx context.Context, fx int, f *file, open func(*Entry) (io.ReadCloser, error), bp **batch, get func(int) bool) (ok bool) {
	fail := func(err error) bool {
		b := *bp
		b.chunks = append(b.chunks, chunk{fx: fx, last: true, err: err})
		ra.send(b)
		*bp = nil
		return false
	}
	var rc io.ReadCloser
	var err error
	switch {
	case f.Open != nil:
		rc, err = f.Open()
	case open != nil:
		rc, err = open(f.Entry)
	default:
		return fail(fmt.Errorf("rpm: %s: regular file of %d bytes has no Open", f.Path, f.size))
	}
	if err != nil {
		return fail(fmt.Errorf("rpm: %s: %w", f.Path, err))
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && ok {
			ok = fail(fmt.Errorf("rpm: %s: close: %w", f.Path, cerr))
		}
	}()

	h := ra.h
	h.Reset()
	var magic [5]byte // ELF identification, for FILECOLORS
	var read int64
	for read < f.size {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		want := int(min(f.size-read, readAheadChunk))
		if !get(want) {
			return false
		}
		b := *bp
		start := len(b.buf)
		n, rerr := io.ReadFull(rc, b.buf[start:start+want])
		data := b.buf[start : start+n]
		b.buf = b.buf[:start+n]
		if read < int64(len(magic)) {
			copy(magic[read:], data)
		}
		read += int64(n)
		h.Write(data)
		if n > 0 {
			b.chunks = append(b.chunks, chunk{fx: fx, data: data})
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return fail(fmt.Errorf("rpm: %s: %w (stat %d, read %d)", f.Path, ErrSizeChanged, f.size, read))
		}
		if rerr != nil {
			return fail(fmt.Errorf("rpm: %s: read: %w", f.Path, rerr))
		}
	}
	// The file must end where its size says.
	var one [1]byte
	extra, rerr := io.ReadFull(rc, one[:])
	if extra > 0 {
		more, _ := io.Copy(io.Discard, rc)
		return fail(fmt.Errorf("rpm: %s: %w (stat %d, read %d)", f.Path, ErrSizeChanged, f.size, read+int64(extra)+more))
	}
	if rerr != nil && rerr != io.EOF {
		return fail(fmt.Errorf("rpm: %s: read: %w", f.Path, rerr))
	}
	if !get(0) {
		return false
	}
	c := chunk{fx: fx, last: true, color: elfColor(magic[:])}
	h.Sum(c.sum[:0])
	(*bp).chunks = append((*bp).chunks, c)
	return true
}

// ErrSizeChanged reports that a regular file yielded more or fewer bytes
// than its Entry.Size.
var ErrSizeChanged = errors.New("size changed while packaging")

// elfColor returns rpm's file color for an ELF header: 1 for 32-bit, 2 for
// 64-bit objects, 0 for anything else (rpmfc's RPMFC_ELF32/RPMFC_ELF64).
func elfColor(ident []byte) uint32 {
	if len(ident) < 5 || string(ident[:4]) != "\x7fELF" {
		return 0
	}
	switch ident[4] {
	case 1:
		return 1
	case 2:
		return 2
	}
	return 0
}
