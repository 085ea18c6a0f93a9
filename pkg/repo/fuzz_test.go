package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Fuzz targets for what publish reads: packages (both the in-memory and
// the streaming reader), the repomd.xml it reads back, its state file and
// chunk cache, and the metadata Check parses. Run with
//
//	go test ./pkg/repo -run '^$' -fuzz '^FuzzReadPackage$' -fuzztime 60s
//
// Seeds are the test RPMs under testdata plus the committed inputs under
// testdata/fuzz.

// rpmSeeds returns the bytes of the RPMs shipped in testdata.
func rpmSeeds(tb testing.TB) [][]byte {
	var out [][]byte
	for _, pat := range []string{"../../testdata/rpmdb/rpmforge/rpms/*.rpm", "../../testdata/repo/*.rpm", "../../testdata/repo/*/*.rpm"} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			if b, err := os.ReadFile(m); err == nil {
				out = append(out, b)
			}
		}
	}
	return out
}

// FuzzReadPackage: any bytes either read as a package or give an error
// wrapping ErrInvalid; the streaming reader (packages over 64 MiB) and the
// in-memory one agree; a package read is self-consistent and renders as
// well-formed XML.
func FuzzReadPackage(f *testing.F) {
	for _, b := range rpmSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xed, 0xab, 0xee, 0xdb}, 40))
	tmp := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		opts := ReadOptions{ChangelogLimit: -1}
		p1, err1 := readPackage(bytes.NewReader(data), size, 1, "a b&<>\"'.rpm", opts)

		path := filepath.Join(tmp, "p.rpm")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var buf []byte
		p2, err2 := readPackageFrom(fh, size, 1, "a b&<>\"'.rpm", opts, &buf)
		fh.Close()

		for _, err := range []error{err1, err2} {
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
		}
		if err2 != nil {
			// The in-memory reader also checks the header digest; the
			// streaming one leaves that to clients.
			return
		}
		if err1 != nil {
			t.Fatalf("in-memory reader accepted what the streaming one refused: %v", err1)
		}
		if !reflect.DeepEqual(p1, p2) {
			t.Fatalf("readers disagree:\n%+v\n%+v", p1, p2)
		}
		p := p2
		sum := sha256.Sum256(data)
		if p.PkgID != hex.EncodeToString(sum[:]) || p.SizePackage != size {
			t.Fatalf("pkgid/size %s %d, want the file's", p.PkgID, p.SizePackage)
		}
		if p.HeaderStart < 96+16 || p.HeaderStart >= p.HeaderEnd || p.HeaderEnd >= size {
			t.Fatalf("header range %d-%d in a %d-byte file", p.HeaderStart, p.HeaderEnd, size)
		}
		if p.Name == "" || p.Version == "" {
			t.Fatalf("package without name or version: %+v", p)
		}
		for k := range numKinds {
			doc := fileHead(Kind(k), 1)
			doc = appendKind(doc, Kind(k), p)
			doc = append(doc, fileTail(Kind(k))...)
			if err := wellFormed(doc); err != nil {
				t.Fatalf("%s is not well-formed XML: %v\n%s", kindNames[k], err, doc)
			}
		}
	})
}

// wellFormed parses an XML document to its end.
func wellFormed(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// FuzzParseRepomd: repomd.xml either parses or errs; what parses renders
// back to a repomd.xml that parses to the same records.
func FuzzParseRepomd(f *testing.F) {
	md := &Repomd{Revision: "1", Records: []Record{
		{Type: "primary", Checksum: "ab", Location: "repodata/ab-primary.xml.gz", Timestamp: 1, Size: 2, OpenSize: 3, OpenChecksum: "cd"},
		{Type: "other", Checksum: "ef", Location: "repodata/a b&<>.xml.zst", Size: 1 << 62, OpenSize: -1},
	}}
	f.Add(md.Marshal())
	f.Add([]byte(`<repomd><data type="primary"><location href="x"/><size>99999999999999999999</size></data></repomd>`))
	f.Add([]byte(`<repomd><data type="primary"><location href="x"/><open-size>-5</open-size></data></repomd>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := ParseRepomd(data)
		if err != nil {
			return
		}
		again, err := ParseRepomd(md.Marshal())
		if err != nil {
			t.Fatalf("re-parsing our own rendering: %v\n%s", err, md.Marshal())
		}
		if len(again.Records) != len(md.Records) {
			t.Fatalf("%d records, then %d", len(md.Records), len(again.Records))
		}
		for i, r := range md.Records {
			a := again.Records[i]
			if a.Type != r.Type || a.Location != r.Location || a.Size != r.Size || a.Timestamp != r.Timestamp {
				t.Fatalf("record %d changed: %+v -> %+v", i, r, a)
			}
		}
	})
}

// withCRC frames a body as the state and chunk files are framed, so that
// the fuzzer explores the decoders rather than the checksum.
func withCRC(magic string, body []byte) []byte {
	b := append([]byte(magic), body...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// FuzzUnmarshalState: the state file decodes or errs without allocating by
// the counts it claims, and what decodes round-trips.
func FuzzUnmarshalState(f *testing.F) {
	st := &state{Version: stateVersion, Settings: "s", Repomd: "r", Chunks: []string{"c1", "c2"},
		Packages: []stateEntry{
			{Href: "a b&.rpm", Dev: 1, Ino: 2, Size: 3, Mtime: 4, Ctime: -5, Racy: true, PkgID: "p", Key: "k", Chunk: "c2", Pos: 7},
			{Href: "b.rpm", Chunk: "c1"},
		},
		Generations: [][]string{{"x", "y"}, {}}}
	f.Add(st.marshal()[len(stateMagic) : len(st.marshal())-4])
	f.Add((&state{Version: stateVersion}).marshal()[len(stateMagic):])
	// A count claiming 2^62 chunks.
	f.Add(binary.AppendUvarint(binary.AppendUvarint(nil, stateVersion), 1<<62))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := withCRC(stateMagic, body)
		st, err := unmarshalState(b)
		if err != nil {
			return
		}
		again, err := unmarshalState(st.marshal())
		if err != nil {
			t.Fatalf("re-reading our own state: %v", err)
		}
		if !bytes.Equal(st.marshal(), again.marshal()) {
			t.Fatalf("state changed:\n%+v\n%+v", st, again)
		}
	})
}

// FuzzUnmarshalChunk: a chunk file decodes or errs; a decoded chunk's
// fragments are all inside it and it round-trips.
func FuzzUnmarshalChunk(f *testing.F) {
	c := &chunk{key: "k", keys: make([][32]byte, 2), lens: [][numKinds]int{{1, 2, 3}, {0, 1, 2}}}
	for k := range numKinds {
		c.u[k] = bytes.Repeat([]byte{'a' + byte(k)}, c.lens[0][k]+c.lens[1][k])
		c.c[k] = []byte("zz")
	}
	var whole []byte
	for _, p := range c.marshal() {
		whole = append(whole, p...)
	}
	f.Add(whole[len(chunkMagic) : len(whole)-4])
	f.Add(binary.AppendUvarint(nil, 1<<40))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := withCRC(chunkMagic, body)
		c, err := unmarshalChunk("k", b)
		if err != nil {
			return
		}
		for i := range c.keys {
			for k := range numKinds {
				o, l := c.offs[i][k], c.lens[i][k]
				if o < 0 || l < 0 || o+l > len(c.u[k]) {
					t.Fatalf("fragment %d/%d at %d+%d outside %d bytes", i, k, o, l, len(c.u[k]))
				}
				_ = c.fragment(i, Kind(k))
			}
		}
		// Re-encoded (varints canonical), it decodes to the same chunk.
		var again []byte
		for _, p := range c.marshal() {
			again = append(again, p...)
		}
		c2, err := unmarshalChunk("k", again)
		if err != nil {
			t.Fatalf("re-reading our own chunk: %v", err)
		}
		if !reflect.DeepEqual(c.keys, c2.keys) || !reflect.DeepEqual(c.lens, c2.lens) || !reflect.DeepEqual(c.offs, c2.offs) {
			t.Fatalf("chunk index does not round-trip")
		}
		for k := range numKinds {
			if !bytes.Equal(c.u[k], c2.u[k]) || !bytes.Equal(c.c[k], c2.c[k]) {
				t.Fatalf("chunk data does not round-trip")
			}
		}
	})
}

// FuzzPackageIDs: Check's metadata parser errs or lists as many packages
// as the root claims, never allocating by the claim.
func FuzzPackageIDs(f *testing.F) {
	f.Add(uint8(0), []byte(`<metadata packages="1"><package><checksum>ab</checksum></package></metadata>`))
	f.Add(uint8(1), []byte(`<filelists packages="1"><package pkgid="ab"/></filelists>`))
	f.Add(uint8(0), []byte(`<metadata packages="99999999999999"></metadata>`))
	f.Add(uint8(0), []byte(`<metadata packages="-1"></metadata>`))
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		ids, err := packageIDs(Kind(k%uint8(numKinds)), data)
		if err == nil && ids == nil && !bytes.Contains(data, []byte("packages")) {
			t.Fatalf("no packages attribute but no error")
		}
	})
}
