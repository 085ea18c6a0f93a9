package repo

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
)

// stateVersion changes whenever the rendering or the cache format changes,
// which invalidates every cached chunk.
const stateVersion = 1

// state is what Publish remembers between runs, in StateDir/state: a
// cache of what it read (keyed by the file's identity and verified by its
// change time) and the generations of repodata it published.
type state struct {
	Version  int
	Settings string   // fingerprint of the options the chunks depend on
	Repomd   string   // SHA-256 of the repomd.xml last written, hex
	Asc      string   // and of its signature, "" if unsigned
	Chunks   []string // chunk keys in order
	Packages []stateEntry
	// Generations lists, newest first, the repodata files each recently
	// published repomd.xml named; they are kept for the grace period.
	Generations [][]string
}

// stateEntry is one package file as last read.
type stateEntry struct {
	Href  string
	Dev   uint64
	Ino   uint64
	Size  int64
	Mtime int64 // ns
	Ctime int64 // ns
	// Racy is set when the file changed within the timestamp granularity
	// of the read, so that an undetectable rewrite was possible: the file
	// is read again next time.
	Racy  bool
	PkgID string
	Key   string // render key: fragments depend on nothing else
	Chunk string // the chunk holding its fragments
	Pos   int    // its position in the chunk
}

func (s *stateDir) statePath() string { return filepath.Join(s.dir, "state") }

type stateDir struct {
	dir  string
	bufs bufList // of chunks being built or loaded
}

// bufList keeps the buffers of released chunks for the next ones: unlike a
// sync.Pool it is not emptied by every GC (a full publish runs dozens), and
// it goes away with its publish.
type bufList struct {
	mu   sync.Mutex
	free []*[]byte
}

// get returns a buffer of at least n bytes.
func (l *bufList) get(n int) *[]byte {
	l.mu.Lock()
	for i, b := range l.free {
		if cap(*b) >= n {
			l.free = append(l.free[:i], l.free[i+1:]...)
			l.mu.Unlock()
			return b
		}
	}
	l.mu.Unlock()
	b := make([]byte, n)
	return &b
}

func (l *bufList) put(b *[]byte) {
	l.mu.Lock()
	if len(l.free) < 3 { // the chunks in flight on 2 cores; beyond, allocate
		l.free = append(l.free, b)
	}
	l.mu.Unlock()
}

func (s *stateDir) chunkPath(key string) string {
	return filepath.Join(s.dir, "chunks", key)
}

// load reads the state; a missing, unreadable or outdated state is an empty
// one (everything is read again).
func (s *stateDir) load() *state {
	b, err := os.ReadFile(s.statePath())
	if err != nil {
		return &state{Version: stateVersion}
	}
	st, err := unmarshalState(b)
	if err != nil {
		return &state{Version: stateVersion}
	}
	return st
}

func (s *stateDir) save(st *state, noSync bool) error {
	return writeFileAtomic(s.statePath(), st.marshal(), noSync)
}

const stateMagic = "RFSTATE1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// marshal encodes the state compactly (it is read on every publish).
func (st *state) marshal() []byte {
	n := 64 + 80*len(st.Chunks)
	for _, e := range st.Packages {
		n += len(e.Href) + len(e.PkgID) + len(e.Key) + 64
	}
	b := make([]byte, 0, n)
	b = append(b, stateMagic...)
	b = binary.AppendUvarint(b, uint64(st.Version))
	b = appendString(b, st.Settings)
	b = appendString(b, st.Repomd)
	b = appendString(b, st.Asc)
	b = binary.AppendUvarint(b, uint64(len(st.Chunks)))
	chunkIndex := make(map[string]int, len(st.Chunks))
	for i, c := range st.Chunks {
		b = appendString(b, c)
		chunkIndex[c] = i
	}
	b = binary.AppendUvarint(b, uint64(len(st.Packages)))
	for _, e := range st.Packages {
		b = appendString(b, e.Href)
		b = binary.AppendUvarint(b, e.Dev)
		b = binary.AppendUvarint(b, e.Ino)
		b = binary.AppendVarint(b, e.Size)
		b = binary.AppendVarint(b, e.Mtime)
		b = binary.AppendVarint(b, e.Ctime)
		if e.Racy {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendString(b, e.PkgID)
		b = appendString(b, e.Key)
		ci, ok := chunkIndex[e.Chunk]
		if !ok {
			ci = -1
		}
		b = binary.AppendVarint(b, int64(ci))
		b = binary.AppendUvarint(b, uint64(e.Pos))
	}
	b = binary.AppendUvarint(b, uint64(len(st.Generations)))
	for _, g := range st.Generations {
		b = binary.AppendUvarint(b, uint64(len(g)))
		for _, f := range g {
			b = appendString(b, f)
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errBadState = errors.New("corrupt state")

// decoder reads what marshal wrote; its first error sticks.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err, d.p = errBadState, nil
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.err, d.p = errBadState, nil
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.p)) {
		d.err, d.p = errBadState, nil
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	s := string(d.p[:n])
	d.p = d.p[n:]
	return s
}

func (d *decoder) byte() byte {
	if len(d.p) == 0 {
		d.err = errBadState
		return 0
	}
	c := d.p[0]
	d.p = d.p[1:]
	return c
}

func unmarshalState(b []byte) (*state, error) {
	if len(b) < len(stateMagic)+4 || string(b[:len(stateMagic)]) != stateMagic {
		return nil, errBadState
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, errBadState
	}
	d := &decoder{p: body[len(stateMagic):]}
	st := &state{Version: int(d.uvarint())}
	if st.Version != stateVersion {
		return nil, errBadState
	}
	st.Settings = d.string()
	st.Repomd = d.string()
	st.Asc = d.string()
	st.Chunks = make([]string, d.count())
	for i := range st.Chunks {
		st.Chunks[i] = d.string()
	}
	st.Packages = make([]stateEntry, d.count())
	for i := range st.Packages {
		e := &st.Packages[i]
		e.Href = d.string()
		e.Dev, e.Ino = d.uvarint(), d.uvarint()
		e.Size, e.Mtime, e.Ctime = d.varint(), d.varint(), d.varint()
		e.Racy = d.byte() == 1
		e.PkgID, e.Key = d.string(), d.string()
		if ci := d.varint(); ci >= 0 && ci < int64(len(st.Chunks)) {
			e.Chunk = st.Chunks[ci]
		}
		e.Pos = int(d.uvarint())
	}
	st.Generations = make([][]string, d.count())
	for i := range st.Generations {
		g := make([]string, d.count())
		for j := range g {
			g[j] = d.string()
		}
		st.Generations[i] = g
	}
	if d.err != nil || len(d.p) != 0 {
		return nil, errBadState
	}
	return st, nil
}

// writeFileAtomic writes a local file through a temporary file and rename.
func writeFileAtomic(path string, data []byte, noSync bool) error {
	return writePartsAtomic(path, [][]byte{data}, noSync)
}

func writePartsAtomic(path string, parts [][]byte, noSync bool) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bufs := net.Buffers(parts)
	if _, err := bufs.WriteTo(tmp); err != nil {
		return err
	}
	if !noSync {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// chunk is a run of consecutive packages whose metadata is rendered, and
// compressed, together. Its key hashes the render keys of its packages
// and the compression, so a cached chunk is valid for as long as the key
// matches.
type chunk struct {
	key  string
	keys [][32]byte // render keys of its packages
	lens [][numKinds]int
	u    [numKinds][]byte // uncompressed fragments, concatenated
	c    [numKinds][]byte // compressed member (gzip, zstd), nil for xz
	offs [][numKinds]int  // computed: start of each fragment in u
	cOff [numKinds]int64  // computed: where each c is in the chunk's file
	buf  *[]byte          // buffer u and c point into, if any
	bufs *bufList         // where buf goes back
}

const chunkMagic = "RFCHUNK1"

func (c *chunk) index() {
	c.offs = make([][numKinds]int, len(c.lens))
	var pos [numKinds]int
	for i, l := range c.lens {
		c.offs[i] = pos
		for k := range l {
			pos[k] += l[k]
		}
	}
}

// fragment returns package i's fragment of kind k.
func (c *chunk) fragment(i int, k Kind) []byte {
	return c.u[k][c.offs[i][k] : c.offs[i][k]+c.lens[i][k]]
}

// marshal returns the chunk's serialization as parts to write in order.
func (c *chunk) marshal() [][]byte {
	var b []byte
	b = append(b, chunkMagic...)
	b = binary.AppendUvarint(b, uint64(len(c.keys)))
	for i, k := range c.keys {
		b = append(b, k[:]...)
		for _, l := range c.lens[i] {
			b = binary.AppendUvarint(b, uint64(l))
		}
	}
	for k := range numKinds {
		b = binary.AppendUvarint(b, uint64(len(c.u[k])))
		b = binary.AppendUvarint(b, uint64(len(c.c[k])))
	}
	parts := [][]byte{b}
	off := int64(len(b))
	for k := range numKinds {
		parts = append(parts, c.u[k])
		off += int64(len(c.u[k]))
	}
	for k := range numKinds {
		parts = append(parts, c.c[k])
		c.cOff[k] = off
		off += int64(len(c.c[k]))
	}
	var crc uint32
	for _, p := range parts {
		crc = crc32.Update(crc, castagnoli, p)
	}
	return append(parts, binary.BigEndian.AppendUint32(nil, crc))
}

var errBadChunk = errors.New("corrupt chunk")

func unmarshalChunk(key string, b []byte) (*chunk, error) {
	if len(b) < len(chunkMagic)+4 || string(b[:len(chunkMagic)]) != chunkMagic {
		return nil, errBadChunk
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, errBadChunk
	}
	p := body[len(chunkMagic):]
	next := func() (int, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 || v > uint64(len(b)) {
			return 0, false
		}
		p = p[n:]
		return int(v), true
	}
	n, ok := next()
	if !ok {
		return nil, errBadChunk
	}
	c := &chunk{key: key, keys: make([][32]byte, n), lens: make([][numKinds]int, n)}
	for i := 0; i < n; i++ {
		if len(p) < 32 {
			return nil, errBadChunk
		}
		copy(c.keys[i][:], p)
		p = p[32:]
		for k := range numKinds {
			if c.lens[i][k], ok = next(); !ok {
				return nil, errBadChunk
			}
		}
	}
	var ul, cl [numKinds]int
	for k := range numKinds {
		if ul[k], ok = next(); !ok {
			return nil, errBadChunk
		}
		if cl[k], ok = next(); !ok {
			return nil, errBadChunk
		}
	}
	// The fragments and members follow one another: their lengths must
	// add up within the file (each is at most len(b): no overflow).
	total := 0
	for k := range numKinds {
		total += ul[k] + cl[k]
	}
	if total > len(p) {
		return nil, errBadChunk
	}
	for k := range numKinds {
		c.u[k], p = p[:ul[k]:ul[k]], p[ul[k]:]
	}
	for k := range numKinds {
		c.cOff[k] = int64(len(body) - len(p))
		if cl[k] > 0 {
			c.c[k] = p[:cl[k]:cl[k]]
		}
		p = p[cl[k]:]
	}
	if len(p) != 0 {
		return nil, errBadChunk
	}
	c.index()
	for k := range numKinds {
		if n > 0 && c.offs[n-1][k]+c.lens[n-1][k] != len(c.u[k]) {
			return nil, errBadChunk
		}
	}
	return c, nil
}

// loadChunk reads a cached chunk into a pooled buffer; c.release returns
// it once the chunk is no longer used.
func (s *stateDir) loadChunk(key string) (*chunk, error) {
	f, err := os.Open(s.chunkPath(key))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxChunkFile {
		return nil, fmt.Errorf("%s: %w: %d bytes", s.chunkPath(key), errBadChunk, st.Size())
	}
	bp := s.bufs.get(int(st.Size()))
	b := (*bp)[:st.Size()]
	if _, err := io.ReadFull(f, b); err != nil {
		s.bufs.put(bp)
		return nil, err
	}
	c, err := unmarshalChunk(key, b)
	if err != nil {
		s.bufs.put(bp)
		return nil, fmt.Errorf("%s: %w", s.chunkPath(key), err)
	}
	c.buf, c.bufs = bp, &s.bufs
	return c, nil
}

// maxChunkFile bounds what loadChunk reads into memory: chunks hold at most
// chunkMax packages, whose XML is far smaller.
const maxChunkFile = 1 << 30

// release returns the chunk's buffer for reuse; c must not be used
// afterwards.
func (c *chunk) release() {
	if c.buf != nil {
		c.bufs.put(c.buf)
		c.buf = nil
	}
}

func (s *stateDir) hasChunk(key string) bool {
	_, err := os.Stat(s.chunkPath(key))
	return err == nil
}

// saveChunk writes a chunk straight to its name: not synced nor renamed, as
// a chunk torn by a crash or a concurrent reader fails its checksum and is
// rebuilt. (Chunks are only written under the repository lock.)
func (s *stateDir) saveChunk(c *chunk) error {
	f, err := os.OpenFile(s.chunkPath(c.key), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(s.chunkPath(c.key)), 0o755); err != nil {
			return err
		}
		f, err = os.OpenFile(s.chunkPath(c.key), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	}
	if err != nil {
		return err
	}
	bufs := net.Buffers(c.marshal())
	_, err = bufs.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// gcChunks removes cached chunks that keep is not holding.
func (s *stateDir) gcChunks(keep map[string]bool) {
	root := filepath.Join(s.dir, "chunks")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if !keep[d.Name()] {
			os.Remove(p)
		}
		return nil
	})
}

func hexKey(b [32]byte) string { return hex.EncodeToString(b[:]) }

// countingReader counts the bytes read from r and updates a CRC-32C of them.
type countingReader struct {
	r   io.Reader
	n   int64
	crc uint32
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.crc = crc32.Update(c.crc, castagnoli, b[:n])
	return n, err
}

// streamChunk feeds a cached chunk to an assembler without loading it
// whole: its uncompressed fragments go through the open-checksums (and,
// for xz, the compressors), its members are hashed and referenced by
// offset. The chunk's checksum is verified at the end (the assembler's
// result is only used if every chunk is intact). rd is a reusable buffer.
func (s *stateDir) streamChunk(key string, a *assembler, rd *bufio.Reader) error {
	path := s.chunkPath(key)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	bad := func(what string) error { return fmt.Errorf("%s: %w: %s", path, errBadChunk, what) }
	if size < int64(len(chunkMagic))+4 {
		return bad("short")
	}
	cr := &countingReader{r: io.LimitReader(f, size-4)}
	rd.Reset(cr)
	var magic [len(chunkMagic)]byte
	if _, err := io.ReadFull(rd, magic[:]); err != nil || string(magic[:]) != chunkMagic {
		return bad("bad magic")
	}
	n, err := binary.ReadUvarint(rd)
	if err != nil || n > uint64(size)/32 {
		return bad("bad count")
	}
	var sums [numKinds]uint64
	for i := uint64(0); i < n; i++ {
		if _, err := rd.Discard(32); err != nil {
			return bad("short index")
		}
		for k := range numKinds {
			l, err := binary.ReadUvarint(rd)
			if err != nil || l > uint64(size) {
				return bad("bad index")
			}
			sums[k] += l
		}
	}
	var ul, cl [numKinds]int64
	total := int64(0)
	for k := range numKinds {
		u, err1 := binary.ReadUvarint(rd)
		c, err2 := binary.ReadUvarint(rd)
		if err1 != nil || err2 != nil || u > uint64(size) || c > uint64(size) || u != sums[k] {
			return bad("bad lengths")
		}
		ul[k], cl[k] = int64(u), int64(c)
		total += ul[k] + cl[k]
	}
	off := cr.n - int64(rd.Buffered())
	if off+total != size-4 {
		return bad("bad size")
	}
	comp := a.p.opts.Compression
	if a.copyBuf == nil {
		a.copyBuf = make([]byte, 32<<10)
	}
	copyN := func(w io.Writer, n int64) error {
		m, err := io.CopyBuffer(w, io.LimitReader(rd, n), a.copyBuf)
		if err == nil && m < n {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	for k := range numKinds {
		o := a.out[k]
		var w io.Writer = o.openHash
		if !comp.members() {
			w = io.MultiWriter(o.openHash, a.xzIn[k])
		}
		if err := copyN(w, ul[k]); err != nil {
			return copyErr(path, err)
		}
		o.openSize += ul[k]
		off += ul[k]
	}
	for k := range numKinds {
		o := a.out[k]
		if comp.members() {
			o.parts = append(o.parts, outPart{path: path, off: off, len: cl[k]})
			o.size += cl[k]
		}
		if err := copyN(o.hash, cl[k]); err != nil {
			return copyErr(path, err)
		}
		off += cl[k]
	}
	if _, err := rd.ReadByte(); err != io.EOF {
		return bad("trailing data")
	}
	var crc [4]byte
	if _, err := f.ReadAt(crc[:], size-4); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if binary.BigEndian.Uint32(crc[:]) != cr.crc {
		return bad("checksum mismatch")
	}
	return nil
}

// copyErr tells a chunk file that ended early (changed meanwhile) from a
// failure to write.
func copyErr(path string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w: shorter than it says", path, errBadChunk)
	}
	return fmt.Errorf("%s: %w", path, err)
}
