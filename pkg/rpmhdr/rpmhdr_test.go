package rpmhdr

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

type ent struct {
	tag, typ, count uint32
	data            []byte
}

func be16(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func be32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func be64(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

// build lays out a header as rpm writes it: magic, the region entry
// (unless region is 0) then ents in order, their data aligned, the region
// trailer last.
func build(region uint32, ents ...ent) []byte {
	var data []byte
	type idx struct{ tag, typ, off, count uint32 }
	var index []idx
	for _, e := range ents {
		for len(data)%typeAlign[e.typ] != 0 {
			data = append(data, 0)
		}
		index = append(index, idx{e.tag, e.typ, uint32(len(data)), e.count})
		data = append(data, e.data...)
	}
	if region != 0 {
		il := len(index) + 1
		index = append([]idx{{region, TypeBin, uint32(len(data)), 16}}, index...)
		data = append(data, be32(region, TypeBin, neg(il*16), 16)...)
	}
	b := append(Magic[:], be32(uint32(len(index)), uint32(len(data)))...)
	for _, e := range index {
		b = append(b, be32(e.tag, e.typ, e.off, e.count)...)
	}
	return append(b, data...)
}

// neg is -n as stored in a trailer's offset.
func neg(n int) uint32 { return uint32(-int32(n)) }

// set overwrites field f (0 tag, 1 type, 2 offset, 3 count) of index entry i.
func set(b []byte, i, f int, v uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[IntroSize+16*i+4*f:], v)
	return b
}

// trailer overwrites field f of the region trailer (the last 16 bytes).
func trailer(b []byte, f int, v uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[len(b)-16+4*f:], v)
	return b
}

var sample = []ent{
	{TagName, TypeString, 1, []byte("hello\x00")},
	{TagVersion, TypeString, 1, []byte("1.0\x00")},
	{TagSummary, TypeI18NString, 2, []byte("hi\x00salut\x00")},
	{TagBuildTime, TypeInt32, 2, be32(7, 8)},
	{TagFileModes, TypeInt16, 3, be16(1, 2, 3)},
	{TagBaseNames, TypeStringArray, 3, []byte("a\x00bc\x00\x00")},
	{TagLongSize, TypeInt64, 1, be64(1 << 40)},
	{TagVCS, TypeChar, 2, []byte{9, 10}},
	{TagPayloadDigest, TypeBin, 3, []byte{1, 2, 3}},
}

var mainOpts = Options{Region: TagHeaderImmutable, RequireRegion: true, Exact: true}

func TestParseValid(t *testing.T) {
	b := build(TagHeaderImmutable, sample...)
	h, err := Parse(append(bytes.Clone(b), "trailing"...), mainOpts)
	if err != nil {
		t.Fatal(err)
	}
	if tag, ril, rdl := h.Region(); !bytes.Equal(h.Raw, b) || tag != TagHeaderImmutable || ril != len(sample)+1 || rdl != len(h.Data()) {
		t.Fatalf("raw %d bytes (want %d), region %d ril %d rdl %d", len(h.Raw), len(b), tag, ril, rdl)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("String(Name)", h.String(TagName), "hello")
	check("String(Summary)", h.String(TagSummary), "hi")
	check("I18NString(Summary)", h.I18NString(TagSummary), "hi")
	check("I18NString(Name)", h.I18NString(TagName), "")
	check("Strings(BaseNames)", h.Strings(TagBaseNames), []string{"a", "bc", ""})
	check("Strings(Name)", h.Strings(TagName), []string{"hello"})
	check("Strings(BuildTime)", h.Strings(TagBuildTime), []string(nil))
	check("Int32s", h.Int32s(TagBuildTime), []uint32{7, 8})
	check("Int16s", h.Int16s(TagFileModes), []uint16{1, 2, 3})
	check("Int64s", h.Int64s(TagLongSize), []uint64{1 << 40})
	check("Int32s(Int16)", h.Int32s(TagFileModes), []uint32(nil))
	check("Uints(Int16)", h.Uints(TagFileModes), []uint64{1, 2, 3})
	check("Uints(Char)", h.Uints(TagVCS), []uint64{9, 10})
	check("Bin", h.Bin(TagPayloadDigest), []byte{1, 2, 3})
	check("Bin(Name)", h.Bin(TagName), []byte(nil))
	check("String(missing)", h.String(TagArch), "")
	check("Has(Arch)", h.Has(TagArch), false)
	check("Has(Name)", h.Has(TagName), true)
	v, ok := h.Uint(TagLongSize)
	check("Uint(LongSize)", [2]any{v, ok}, [2]any{uint64(1 << 40), true})
	v, ok = h.Uint(TagName)
	check("Uint(Name)", [2]any{v, ok}, [2]any{uint64(0), false})
	if e, ok := h.Find(TagHeaderImmutable); !ok || e.Count != 16 || e.Type != TypeBin {
		t.Errorf("region entry %+v %v", e, ok)
	}

	// The same without the magic, and read from a stream.
	if h2, err := Parse(b[8:], Options{NoMagic: true}); err != nil || !reflect.DeepEqual(h2.Entries(), h.Entries()) {
		t.Errorf("without magic: %v", err)
	}
	h3, err := Read(bytes.NewReader(b), mainOpts)
	if err != nil || !bytes.Equal(h3.Raw, b) || !reflect.DeepEqual(h3.Entries(), h.Entries()) {
		t.Errorf("Read: %v", err)
	}
}

func TestAlias(t *testing.T) {
	b := build(TagHeaderImmutable, sample...)
	o := mainOpts
	o.Alias = true
	ha, err := Parse(b, o)
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := Parse(b, mainOpts)
	name, copied, bases := ha.String(TagName), hc.String(TagName), ha.Strings(TagBaseNames)
	i := bytes.Index(b, []byte("hello"))
	b[i] = 'j'
	j := bytes.Index(b, []byte("a\x00bc"))
	b[j] = 'z'
	if name != "jello" || copied != "hello" || bases[0] != "z" {
		t.Errorf("aliased %q %q, copied %q", name, bases[0], copied)
	}
}

func TestSignatureHeader(t *testing.T) {
	b := build(TagHeaderSignatures, ent{SigTagSHA256, TypeString, 1, []byte("abc\x00")}, ent{SigTagSize, TypeInt32, 1, be32(5)})
	pad := Pad(len(b))
	if (len(b)+pad)%8 != 0 || pad > 7 {
		t.Fatalf("pad %d for %d", pad, len(b))
	}
	sig := Options{Region: TagHeaderSignatures}
	r := bytes.NewReader(append(append(bytes.Clone(b), make([]byte, pad)...), 'X'))
	h, err := Read(r, sig)
	if err != nil {
		t.Fatal(err)
	}
	if rest, _ := r.ReadByte(); rest != 'X' || h.String(SigTagSHA256) != "abc" {
		t.Errorf("after the padding: %q, sha256 %q", rest, h.String(SigTagSHA256))
	}
	if pad > 0 {
		if _, err := Read(bytes.NewReader(b), sig); err == nil || !strings.Contains(err.Error(), "sigh pad") {
			t.Errorf("missing padding: %v", err)
		}
	}
	// Old packages' trailers say HEADERIMAGE.
	if _, err := Parse(trailer(b, 0, TagHeaderImage), sig); err != nil {
		t.Errorf("HEADERIMAGE trailer: %v", err)
	}
	// No region at all is fine in a signature header.
	if _, err := Parse(build(0, ent{SigTagSize, TypeInt32, 1, be32(5)}), sig); err != nil {
		t.Errorf("no region: %v", err)
	}
}

func TestUnsorted(t *testing.T) {
	// Tags out of order (data in index order): found all the same.
	b := build(TagHeaderImmutable, ent{TagVersion, TypeString, 1, []byte("1\x00")}, ent{TagName, TypeString, 1, []byte("n\x00")},
		ent{TagArch, TypeString, 1, []byte("x\x00")})
	h, err := Parse(b, mainOpts)
	if err != nil {
		t.Fatal(err)
	}
	if h.String(TagName) != "n" || h.String(TagVersion) != "1" || h.String(TagArch) != "x" || h.Entries()[0].Tag != TagHeaderImmutable {
		t.Errorf("lookups in an unsorted header: %q %q %q", h.String(TagName), h.String(TagVersion), h.String(TagArch))
	}
}

func TestVerify(t *testing.T) {
	good := build(TagHeaderImmutable, sample...)
	two := build(TagHeaderImmutable, ent{TagName, TypeString, 1, []byte("n\x00")}, ent{TagSize, TypeInt32, 1, be32(1)})
	sig := Options{Region: TagHeaderSignatures}
	noRegion := build(0, ent{TagName, TypeString, 1, []byte("n\x00")})
	for _, c := range []struct {
		name string
		b    []byte
		o    Options
		want string // "" when it parses
	}{
		{"valid", good, mainOpts, ""},
		{"valid, no region, not required", noRegion, Options{Region: TagHeaderImmutable, Exact: true}, ""},
		{"valid, installed (any region, more tags)", trailer(two, 2, neg(2*16)), Options{}, ""},
		{"empty", nil, mainOpts, "hdr size(16): BAD"},
		{"short intro", good[:10], mainOpts, "hdr size(16): BAD"},
		{"truncated", good[:len(good)-1], mainOpts, "hdr blob"},
		{"truncated index", good[:IntroSize+20], mainOpts, "hdr blob"},
		{"bad magic", append([]byte{0x8e, 0xad, 0xe8, 0x02}, good[4:]...), mainOpts, "hdr magic: BAD"},
		{"too many tags", set(good, -1, 2, 0x10000), mainOpts, "hdr tags: BAD"},
		{"too many signature tags", set(good, -1, 2, 33), sig, "hdr tags: BAD"},
		{"too much data", set(good, -1, 3, 0x10000000), mainOpts, "hdr data: BAD"},
		{"too much signature data", set(good, -1, 3, 64<<20+1), sig, "hdr data: BAD"},
		{"no tags", append(Magic[:], 0, 0, 0, 0, 0, 0, 0, 0), Options{}, "region: no tags"},
		{"offset out of range", set(good, 2, 2, uint32(len(good))), mainOpts, "tag[1]: BAD"},
		{"negative offset", set(good, 1, 2, 0xffffffff), mainOpts, "tag[0]: BAD"},
		{"misaligned int32", set(two, 2, 2, 5), mainOpts, "tag[1]: BAD"},
		{"overlapping data", set(good, 2, 2, 0), mainOpts, "tag[1]: BAD"},
		{"unordered data", set(set(two, 1, 2, 4), 2, 2, 0), mainOpts, "tag[1]: BAD"},
		{"data over the trailer", set(two, 2, 2, uint32(len(two)-IntroSize-3*16-16)), mainOpts, "tag[1]: BAD"},
		{"tag below 100", set(good, 1, 0, 99), mainOpts, "tag[0]: BAD"},
		{"unknown type", set(good, 1, 1, 10), mainOpts, "tag[0]: BAD"},
		{"zero count", set(good, 4, 3, 0), mainOpts, "tag[3]: BAD"},
		{"huge count", set(good, 4, 3, 1<<20), mainOpts, "tag[3]: BAD"},
		{"int data past the end", set(good, 4, 3, 1000), mainOpts, "tag[3]: BAD"},
		{"STRING with count 2", set(good, 1, 3, 2), mainOpts, "tag[0]: BAD"},
		{"string past its entry", set(good, 6, 3, 4), mainOpts, "tag[6]: BAD"},
		{"unterminated string", build(0, ent{TagName, TypeString, 1, []byte("abc")}), Options{}, "tag[0]: BAD"},
		{"region required", noRegion, mainOpts, "region tag 63 missing"},
		{"region tag type", set(good, 0, 1, TypeInt32), mainOpts, "region tag: BAD"},
		{"region tag count", set(good, 0, 3, 15), mainOpts, "region tag: BAD"},
		{"region offset", set(good, 0, 2, uint32(len(good))), mainOpts, "region offset: BAD"},
		{"bad region trailer tag", trailer(good, 0, TagHeaderSignatures), mainOpts, "region trailer: BAD"},
		{"bad region trailer type", trailer(good, 1, TypeInt32), mainOpts, "region trailer: BAD"},
		{"bad region trailer count", trailer(good, 3, 0), mainOpts, "region trailer: BAD"},
		{"region trailer offset not a multiple", trailer(good, 2, neg(3*16+1)), mainOpts, "region 63 size: BAD"},
		{"region larger than the index", trailer(two, 2, neg(4*16)), mainOpts, "region 63 size: BAD"},
		{"region smaller than the header", trailer(two, 2, neg(2*16)), mainOpts, "region 63: tag number mismatch"},
		{"signature region tag in a main header", build(TagHeaderSignatures, ent{TagName, TypeString, 1, []byte("n\x00")}), mainOpts, "region tag 63 missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := Parse(c.b, c.o)
			_, rerr := Read(bytes.NewReader(c.b), Options{Region: c.o.Region, RequireRegion: c.o.RequireRegion, Exact: c.o.Exact})
			if c.o.Region == TagHeaderSignatures && c.want == "" {
				rerr = nil // Read also wants the padding
			}
			if c.want == "" {
				if err != nil || h == nil || rerr != nil {
					t.Fatalf("Parse: %v, Read: %v", err, rerr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse: %v, want %q", err, c.want)
			}
			if rerr == nil || !strings.Contains(rerr.Error(), c.want) {
				t.Errorf("Read: %v, want %q", rerr, c.want)
			}
		})
	}
}

func TestDataLength(t *testing.T) {
	for _, c := range []struct {
		typ   uint32
		p     string
		count uint32
		want  int
	}{
		{TypeNull, "", 1, 0},
		{TypeChar, "ab", 2, 2},
		{TypeChar, "ab", 3, -1},
		{TypeInt16, "abcd", 2, 4},
		{TypeInt32, "abcd", 2, -1},
		{TypeInt64, "abcdefgh", 1, 8},
		{TypeString, "ab\x00c", 1, 3},
		{TypeString, "ab\x00c\x00", 2, -1},
		{TypeStringArray, "ab\x00c\x00", 2, 5},
		{TypeI18NString, "ab\x00c", 2, -1},
		{TypeBin, "abc", 3, 3},
		{12, "abc", 1, 0},
	} {
		if got := DataLength(c.typ, []byte(c.p), c.count); got != c.want {
			t.Errorf("DataLength(%d, %q, %d) = %d, want %d", c.typ, c.p, c.count, got, c.want)
		}
	}
}

// FuzzParse: Parse never panics on any bytes under any options; Parse and
// Read agree; what parses is readable through every accessor.
//
//	go test ./pkg/rpmhdr -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s
func FuzzParse(f *testing.F) {
	f.Add(build(TagHeaderImmutable, sample...), uint8(0))
	f.Add(build(TagHeaderSignatures, ent{SigTagSize, TypeInt32, 1, be32(5)}), uint8(1))
	f.Add(build(0, sample...), uint8(2))
	f.Add(build(TagHeaderImmutable, sample...)[8:], uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		o := []Options{mainOpts, {Region: TagHeaderSignatures}, {Region: TagHeaderImmutable, Exact: true}, {NoMagic: true}}[which%4]
		o.Alias = which&4 != 0
		h, err := Parse(b, o)
		in := b
		if err == nil { // the padding a signature header is read with
			in = append(bytes.Clone(b), make([]byte, Pad(len(h.Raw)))...)
		}
		h2, err2 := Read(bytes.NewReader(in), o)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Parse: %v, Read: %v", err, err2)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(h.Raw, h2.Raw) || !reflect.DeepEqual(h.Entries(), h2.Entries()) {
			t.Fatal("Parse and Read disagree")
		}
		if len(h.Raw) > len(b) || !bytes.Equal(h.Raw, b[:len(h.Raw)]) {
			t.Fatal("Raw is not the start of the input")
		}
		for _, e := range h.Entries() {
			g, ok := h.Find(e.Tag)
			if !ok || g.Tag != e.Tag {
				t.Fatalf("tag %d not found", e.Tag)
			}
			if d := h.Bytes(e); d == nil || DataLength(e.Type, d, e.Count) != len(d) {
				t.Fatalf("tag %d: data %q", e.Tag, d)
			}
			e = g // the accessors read the first of duplicate tags
			ss := h.Strings(e.Tag)
			if isString(e.Type) && len(ss) != int(e.Count) {
				t.Fatalf("tag %d: %d strings, count %d", e.Tag, len(ss), e.Count)
			}
			if s := h.String(e.Tag); len(ss) > 0 && s != ss[0] {
				t.Fatalf("tag %d: String %q, Strings %q", e.Tag, s, ss)
			}
			_ = h.I18NString(e.Tag)
			_, _ = h.Int16s(e.Tag), h.Int32s(e.Tag)
			_, _ = h.Int64s(e.Tag), h.Bin(e.Tag)
			if u := h.Uints(e.Tag); u != nil {
				if v, ok := h.Uint(e.Tag); !ok || v != u[0] || len(u) != int(e.Count) {
					t.Fatalf("tag %d: Uint %d %v, Uints %v", e.Tag, v, ok, u)
				}
			}
		}
	})
}
