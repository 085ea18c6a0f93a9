package rpm

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestHeaderMarshal(t *testing.T) {
	h := newHeader()
	h.putString(tagName, "x")             // 1000: "x\0" at 0
	h.putInt16(tagFileModes, []uint16{7}) // 1030: aligned to 2
	h.putInt64(tagLongSize, 1<<40)        // 5009: aligned to 8
	h.putInt32(tagSize, 5)                // 1009: aligned to 4
	h.putStrings(tagBaseNames, []string{"a", "bc"})
	h.putI18N(tagSummary, "s")
	h.putBin(tagHeaderI18NTable+1, []byte{1, 2, 3})
	b, err := h.marshal(tagHeaderImmutable)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:8], headerMagic[:]) {
		t.Fatalf("magic % x", b[:8])
	}
	il := int(binary.BigEndian.Uint32(b[8:]))
	dl := int(binary.BigEndian.Uint32(b[12:]))
	if il != 8 || len(b) != 16+il*16+dl {
		t.Fatalf("il=%d dl=%d len=%d", il, dl, len(b))
	}
	data := b[16+il*16:]
	var prevTag uint32
	prevEnd := 0
	for i := 0; i < il; i++ {
		e := b[16+i*16:]
		tag, typ := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
		off := int32(binary.BigEndian.Uint32(e[8:]))
		cnt := binary.BigEndian.Uint32(e[12:])
		if i == 0 {
			// Region entry points at the trailer, which covers the whole index.
			if tag != tagHeaderImmutable || typ != typeBin || cnt != 16 || int(off) != dl-16 {
				t.Fatalf("region entry %d %d %d %d", tag, typ, off, cnt)
			}
			tr := data[off:]
			if binary.BigEndian.Uint32(tr) != tagHeaderImmutable || int32(binary.BigEndian.Uint32(tr[8:])) != int32(-il*16) {
				t.Fatalf("region trailer % x", tr)
			}
			continue
		}
		if tag <= prevTag {
			t.Fatalf("index not sorted by tag: %d after %d", tag, prevTag)
		}
		if int(off)%alignment(typ) != 0 || int(off) < prevEnd {
			t.Fatalf("tag %d type %d at offset %d (previous data ends at %d)", tag, typ, off, prevEnd)
		}
		n, err := dataLen(typ, cnt, data[off:])
		if err != nil {
			t.Fatal(err)
		}
		prevTag, prevEnd = tag, int(off)+n
	}

	back, err := parseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.entries) != len(h.entries) {
		t.Fatalf("parsed %d entries, want %d", len(back.entries), len(h.entries))
	}
	for tag, e := range h.entries {
		g := back.entries[tag]
		if g.typ != e.typ || g.count != e.count || !bytes.Equal(g.data, e.data) {
			t.Errorf("tag %d: got %+v, want %+v", tag, g, e)
		}
	}
	if v, _ := back.getInt(tagLongSize); v != 1<<40 {
		t.Errorf("LONGSIZE = %d", v)
	}
	if back.getString(tagName) != "x" {
		t.Errorf("NAME = %q", back.getString(tagName))
	}
	if _, err := readHeaderBytes(bytes.NewReader(append(b, 9, 9))); err != nil {
		t.Fatal(err)
	}
	if _, err := readHeaderBytes(bytes.NewReader(b[:len(b)-1])); err == nil {
		t.Fatal("readHeaderBytes accepted a truncated header")
	}
}

func TestMarshalSignatureKeepsSize(t *testing.T) {
	d := sigDigests{sha1: "a", sha256: "b", md5: make([]byte, 16), size: 10, archiveSize: 20}
	base, err := marshalSignature(d.header(false), 0, reservedSpace)
	if err != nil {
		t.Fatal(err)
	}
	if len(base)%8 != 0 {
		t.Fatalf("signature header not padded: %d", len(base))
	}
	for _, tc := range []struct {
		name string
		long bool
		sigs map[uint32]int
	}{
		{"long sizes", true, nil},
		{"rsa", false, map[uint32]int{sigTagRSA: 536, sigTagPGP: 536}},
		{"eddsa long", true, map[uint32]int{sigTagDSA: 119}},
		{"odd", false, map[uint32]int{sigTagDSA: 3}},
	} {
		h := d.header(tc.long)
		for tag, n := range tc.sigs {
			h.putBin(tag, make([]byte, n))
		}
		b, err := marshalSignature(h, len(base), reservedSpace)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != len(base) {
			t.Errorf("%s: signature header is %d bytes, want %d", tc.name, len(b), len(base))
		}
	}
}

func TestCPIOStripped(t *testing.T) {
	var buf bytes.Buffer
	c := &cpio{w: &buf}
	if err := c.stripped(0x1a); err != nil {
		t.Fatal(err)
	}
	c.write([]byte("abc"))
	if err := c.stripped(0x1b); err != nil {
		t.Fatal(err)
	}
	if err := c.trailer(); err != nil {
		t.Fatal(err)
	}
	want := "07070X0000001a\x00\x00abc\x0007070X0000001b\x00\x00" +
		"070701" + "00000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000b00000000" + "TRAILER!!!\x00\x00\x00\x00"
	if buf.String() != want {
		t.Fatalf("got  %q\nwant %q", buf.String(), want)
	}
	if c.off != int64(buf.Len()) || c.off%4 != 0 {
		t.Fatalf("offset %d, len %d", c.off, buf.Len())
	}
}
