// Package xzmt writes one .xz stream whose blocks are compressed on several
// goroutines at once, as `xz -T` does.
//
// ulikunitz/xz (the pure-Go xz codec) compresses on one goroutine. This
// package cuts the input into blocks of a fixed size, compresses each with
// its LZMA2 writer (lzma.Writer2, which starts every block with a dictionary
// reset) and frames them as one xz stream: stream header, blocks with their
// compressed and uncompressed sizes in the block header, CRC64 checks, the
// index and the stream footer (the .xz file format, version 1.0.4). One
// stream, not concatenated streams, because rpm's xz reader stops at the end
// of the first stream.
//
// Block boundaries depend only on BlockSize, so the output is the same
// whatever the number of goroutines. Memory is bounded: at most Threads+1
// blocks are in flight, each holding its input, its output and one LZMA2
// encoder (about 9 bytes per byte of dictionary with ulikunitz's hash-table
// matcher).
package xzmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"sync"

	"github.com/ulikunitz/xz/lzma"
)

// Config sets the dictionary and block sizes and the number of goroutines.
type Config struct {
	// DictCap is the LZMA2 dictionary size; 0 means 2 MB. It is capped at
	// BlockSize: a block never looks further back than its own start.
	DictCap int
	// BlockSize is the uncompressed size of every block but the last; 0
	// means 3 × DictCap (what xz -T uses).
	BlockSize int
	// Threads is the number of blocks compressed at once; 0 means 2.
	Threads int
}

func (c Config) fill() (Config, error) {
	if c.DictCap == 0 {
		c.DictCap = 2 << 20
	}
	if c.BlockSize == 0 {
		c.BlockSize = 3 * c.DictCap
	}
	if c.Threads == 0 {
		c.Threads = 2
	}
	if c.BlockSize < 4096 || c.DictCap < lzma.MinDictCap || c.Threads < 1 {
		return c, fmt.Errorf("xzmt: block size %d, dictionary %d or threads %d out of range", c.BlockSize, c.DictCap, c.Threads)
	}
	c.DictCap = min(c.DictCap, c.BlockSize)
	return c, nil
}

const (
	checkCRC64 = 0x04
	checkSize  = 8
	filterLZMA = 0x21
)

var (
	streamMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	footerMagic = []byte{'Y', 'Z'}
	streamFlags = []byte{0x00, checkCRC64}
	crc64Table  = crc64.MakeTable(crc64.ECMA)
)

// record is one index entry.
type record struct{ unpadded, uncompressed int64 }

// job is one block: its input, and then its encoded form (header; LZMA2
// data; padding and check) or the error that stopped it.
type job struct {
	in   []byte
	out  [3][]byte
	data *bytes.Buffer
	rec  record
	err  error
	done chan struct{}
}

// Writer compresses what is written to it into one xz stream.
type Writer struct {
	w       io.Writer
	cfg     Config
	dictPrp byte

	cur     []byte        // the block being filled
	pending []*job        // blocks handed to workers, in order
	sem     chan struct{} // one token per running worker
	records []record
	free    sync.Pool // input buffers of BlockSize
	bufs    sync.Pool // output buffers (*bytes.Buffer)

	started bool
	err     error
	closed  bool
}

// NewWriter returns a Writer compressing into w. Nothing is written until
// the first Write or Close.
func (c Config) NewWriter(w io.Writer) (*Writer, error) {
	c, err := c.fill()
	if err != nil {
		return nil, err
	}
	x := &Writer{w: w, cfg: c, dictPrp: dictProperty(c.DictCap), sem: make(chan struct{}, c.Threads)}
	x.free.New = func() any { b := make([]byte, 0, c.BlockSize); return &b }
	x.bufs.New = func() any { return new(bytes.Buffer) }
	return x, nil
}

// Write buffers p and hands every full block to a worker. It blocks while
// Threads blocks are being compressed and one more is finished but not
// yet written.
func (x *Writer) Write(p []byte) (int, error) {
	if x.closed {
		return 0, errors.New("xzmt: write after Close")
	}
	n := 0
	for len(p) > 0 {
		if x.err != nil {
			return n, x.err
		}
		if x.cur == nil {
			x.cur = (*x.free.Get().(*[]byte))[:0]
		}
		k := min(len(p), x.cfg.BlockSize-len(x.cur))
		x.cur = append(x.cur, p[:k]...)
		p = p[k:]
		n += k
		if len(x.cur) == x.cfg.BlockSize {
			x.submit()
		}
	}
	return n, x.err
}

// submit hands the current block to a worker, first writing out finished
// blocks so that no more than Threads+1 are held.
func (x *Writer) submit() {
	j := &job{in: x.cur, done: make(chan struct{})}
	x.cur = nil
	for len(x.pending) > x.cfg.Threads && x.err == nil {
		x.flushOne()
	}
	x.pending = append(x.pending, j)
	x.sem <- struct{}{}
	go func() {
		defer func() { <-x.sem }()
		x.encode(j)
		close(j.done)
	}()
}

// flushOne waits for the oldest block and writes it out.
func (x *Writer) flushOne() {
	j := x.pending[0]
	x.pending = x.pending[1:]
	<-j.done
	in := j.in
	defer func() {
		x.free.Put(&in)
		j.data.Reset()
		x.bufs.Put(j.data)
	}()
	if x.err != nil {
		return
	}
	if j.err != nil {
		x.err = j.err
		return
	}
	if err := x.start(); err != nil {
		x.err = err
		return
	}
	for _, b := range j.out {
		if _, err := x.w.Write(b); err != nil {
			x.err = err
			return
		}
	}
	x.records = append(x.records, j.rec)
}

// start writes the stream header once.
func (x *Writer) start() error {
	if x.started {
		return nil
	}
	x.started = true
	h := make([]byte, 0, 12)
	h = append(h, streamMagic...)
	h = append(h, streamFlags...)
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(streamFlags))
	_, err := x.w.Write(h)
	return err
}

// encode compresses one block into j.out: block header, LZMA2 chunks,
// padding to four bytes, CRC64 of the input.
func (x *Writer) encode(j *job) {
	data := x.bufs.Get().(*bytes.Buffer)
	j.data = data
	lw, err := lzma.Writer2Config{DictCap: x.cfg.DictCap}.NewWriter2(data)
	if err == nil {
		_, err = lw.Write(j.in)
	}
	if err == nil {
		err = lw.Close()
	}
	if err != nil {
		j.err = fmt.Errorf("xzmt: compressing a block: %w", err)
		return
	}
	hdr := blockHeader(int64(data.Len()), int64(len(j.in)), x.dictPrp)
	tail := make([]byte, pad4(int64(data.Len())), 3+checkSize)
	tail = binary.LittleEndian.AppendUint64(tail, crc64.Checksum(j.in, crc64Table))
	j.out = [3][]byte{hdr, data.Bytes(), tail}
	j.rec = record{
		unpadded:     int64(len(hdr)) + int64(data.Len()) + checkSize,
		uncompressed: int64(len(j.in)),
	}
}

// Close compresses the last block, writes every block, the index and the
// stream footer. It does not close the underlying writer.
func (x *Writer) Close() error {
	if x.closed {
		return x.err
	}
	x.closed = true
	if len(x.cur) > 0 && x.err == nil {
		x.submit()
	}
	for len(x.pending) > 0 {
		x.flushOne()
	}
	if x.err != nil {
		return x.err
	}
	if err := x.start(); err != nil {
		return err
	}
	index := x.index()
	footer := make([]byte, 0, 12)
	footer = binary.LittleEndian.AppendUint32(footer, 0) // CRC32, set below
	footer = binary.LittleEndian.AppendUint32(footer, uint32(len(index)/4-1))
	footer = append(footer, streamFlags...)
	binary.LittleEndian.PutUint32(footer, crc32.ChecksumIEEE(footer[4:]))
	footer = append(footer, footerMagic...)
	if _, err := x.w.Write(index); err != nil {
		return err
	}
	_, err := x.w.Write(footer)
	return err
}

// index encodes the index: indicator, record count, records, padding,
// CRC32.
func (x *Writer) index() []byte {
	b := []byte{0x00}
	b = binary.AppendUvarint(b, uint64(len(x.records)))
	for _, r := range x.records {
		b = binary.AppendUvarint(b, uint64(r.unpadded))
		b = binary.AppendUvarint(b, uint64(r.uncompressed))
	}
	b = append(b, make([]byte, pad4(int64(len(b))))...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// blockHeader encodes a block header with both sizes and one LZMA2
// filter. (xz's variable-length integers are unsigned LEB128, as
// binary.AppendUvarint writes them.)
func blockHeader(compressed, uncompressed int64, dictPrp byte) []byte {
	b := []byte{0, 0xc0} // size (set below); flags: one filter, both sizes present
	b = binary.AppendUvarint(b, uint64(compressed))
	b = binary.AppendUvarint(b, uint64(uncompressed))
	b = append(b, filterLZMA, 1, dictPrp)
	b = append(b, make([]byte, pad4(int64(len(b))))...)
	b[0] = byte((len(b)+4)/4 - 1)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// dictProperty encodes the smallest LZMA2 dictionary size of the form
// 2^n or 3·2^(n-1) that holds dictCap.
func dictProperty(dictCap int) byte {
	for p := 0; p < 40; p++ {
		size := int64(2|p&1) << (p/2 + 11)
		if size >= int64(dictCap) {
			return byte(p)
		}
	}
	return 40
}

func pad4(n int64) int { return int((4 - n%4) % 4) }
