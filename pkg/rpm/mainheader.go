package rpm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
	"strings"
)

// rpmVersion is the rpm release whose rpmbuild output this writer follows;
// it is stored in RPMVERSION.
const rpmVersion = "4.18.0"

// isaNames are rpm's %{_isa} suffixes for the arch-qualified self-provide.
var isaNames = map[string]string{
	"x86_64": "x86-64", "i386": "x86-32", "i486": "x86-32", "i586": "x86-32", "i686": "x86-32",
	"aarch64": "aarch-64", "ppc64": "ppc-64", "ppc64le": "ppc-64", "s390x": "s390-64",
	"armv7hl": "arm-32", "riscv64": "riscv-64", "loongarch64": "loongarch-64",
}

func rpmlibFeature(name, version string) Relation {
	return Relation{Name: "rpmlib(" + name + ")", Flags: SenseRPMLib | SenseLess | SenseEqual, Version: version}
}

// scriptlets lists the scriptlet tags with the flags of their /bin/sh requirement.
func scriptlets(s *Scripts) []struct {
	body            string
	tag, progTag    uint32
	interpreterFlag Sense
} {
	return []struct {
		body            string
		tag, progTag    uint32
		interpreterFlag Sense
	}{
		{s.Pre, tagPreIn, tagPreInProg, SenseScriptPre},
		{s.Post, tagPostIn, tagPostInProg, SenseScriptPost},
		{s.PreUn, tagPreUn, tagPreUnProg, SenseScriptPreun},
		{s.PostUn, tagPostUn, tagPostUnProg, SenseScriptPostun},
		{s.PreTrans, tagPreTrans, tagPreTransProg, SensePreTrans},
		{s.PostTrans, tagPostTrans, tagPostTransProg, SensePostTrans},
	}
}

// dependencies holds the final, sorted dependency lists of a package.
type dependencies struct {
	provides, requires, conflicts, obsoletes []Relation
	recommends, suggests, supplements        []Relation
	enhances                                 []Relation
}

// resolveDeps adds what rpmbuild adds on its own: self-provides, rpmlib()
// features, scriptlet interpreters and config() dependencies.
func resolveDeps(md *Metadata, hasConfig bool, comp compression, largeFiles bool) dependencies {
	evr := md.evr()
	self := Relation{Name: md.Name, Flags: SenseEqual, Version: evr}

	var prov []Relation
	for _, r := range md.Provides {
		r.Flags &= SenseMask
		prov = append(prov, r)
	}
	prov = append(prov, self)
	if isa, ok := isaNames[md.Arch]; ok {
		prov = append(prov, Relation{Name: md.Name + "(" + isa + ")", Flags: SenseEqual, Version: evr})
	}

	var req []Relation
	for _, r := range md.Requires {
		if strings.HasPrefix(r.Name, "rpmlib(") {
			r.Flags |= SenseRPMLib
		}
		req = append(req, r)
	}
	req = append(req,
		rpmlibFeature("CompressedFileNames", "3.0.4-1"),
		rpmlibFeature("FileDigests", "4.6.0-1"),
		rpmlibFeature("PayloadFilesHavePrefix", "4.0-1"),
	)
	if r, ok := comp.rpmlib(); ok {
		req = append(req, r)
	}
	if largeFiles {
		req = append(req, rpmlibFeature("LargeFiles", "4.12.0-1"))
	}
	for _, s := range scriptlets(&md.Scripts) {
		if s.body != "" {
			req = append(req, Relation{Name: "/bin/sh", Flags: SenseInterp | s.interpreterFlag})
		}
	}
	if hasConfig {
		cfg := Relation{Name: "config(" + md.Name + ")", Flags: SenseConfig | SenseEqual, Version: evr}
		prov = append(prov, cfg)
		req = append(req, cfg)
	}

	var obs []Relation
	for _, r := range md.Obsoletes {
		r.Flags &= SenseMask
		obs = append(obs, r)
	}

	// Version syntax that older rpm cannot read (build/pack.c finalizeDeps).
	all := [][]Relation{prov, req, md.Conflicts, obs, md.Recommends, md.Suggests, md.Supplements, md.Enhances}
	var tilde, caret, rich bool
	for _, rs := range all {
		for _, r := range rs {
			tilde = tilde || strings.Contains(r.Version, "~")
			caret = caret || strings.Contains(r.Version, "^")
			rich = rich || r.isRich()
		}
	}
	if tilde {
		req = append(req, rpmlibFeature("TildeInVersions", "4.10.0-1"))
	}
	if caret {
		req = append(req, rpmlibFeature("CaretInVersions", "4.15.0-1"))
	}
	if rich {
		req = append(req, rpmlibFeature("RichDependencies", "4.12.0-1"))
	}

	return dependencies{
		provides:    sortRelations(prov),
		requires:    sortRelations(req),
		conflicts:   sortRelations(md.Conflicts),
		obsoletes:   sortRelations(obs),
		recommends:  sortRelations(md.Recommends),
		suggests:    sortRelations(md.Suggests),
		supplements: sortRelations(md.Supplements),
		enhances:    sortRelations(md.Enhances),
	}
}

// mainHeader builds the main header as rpmbuild 4.18 writes it.
func mainHeader(md *Metadata, files *fileList, deps dependencies, comp compression, pl payloadInfo, largeFiles bool) (*header, error) {
	h := newHeader()
	h.putStrings(tagHeaderI18NTable, []string{"C"})

	h.putString(tagName, md.Name)
	h.putString(tagVersion, md.Version)
	h.putString(tagRelease, md.Release)
	if md.Epoch != nil {
		h.putInt32(tagEpoch, *md.Epoch)
	}
	h.putI18N(tagSummary, md.Summary)
	h.putI18N(tagDescription, md.Description)
	if !md.BuildTime.IsZero() {
		h.putInt32(tagBuildTime, uint32(md.BuildTime.Unix()))
	}
	putOptional(h, tagBuildHost, md.BuildHost)
	putOptional(h, tagVendor, md.Vendor)
	h.putString(tagLicense, md.License)
	putOptional(h, tagPackager, md.Packager)
	h.putI18N(tagGroup, md.Group)
	putOptional(h, tagURL, md.URL)
	h.putString(tagOS, md.OS)
	h.putString(tagArch, md.Arch)
	h.putString(tagSourceRPM, md.SourceRPM)
	putOptional(h, tagVCS, md.VCS)
	h.putString(tagRPMVersion, rpmVersion)
	h.putString(tagPlatform, md.Arch+"-redhat-"+md.OS+"-gnu")

	for _, s := range scriptlets(&md.Scripts) {
		if s.body != "" {
			h.putString(s.tag, s.body)
			h.putString(s.progTag, "/bin/sh")
		}
	}

	if n := len(md.Changelog); n > 0 {
		times := make([]uint32, n)
		names := make([]string, n)
		texts := make([]string, n)
		for i, c := range md.Changelog {
			times[i], names[i], texts[i] = uint32(c.Time.Unix()), c.Author, c.Text
		}
		h.putInt32(tagChangelogTime, times...)
		h.putStrings(tagChangelogName, names)
		h.putStrings(tagChangelogText, texts)
	}

	putRelations(h, tagProvideName, tagProvideVersion, tagProvideFlags, deps.provides)
	putRelations(h, tagRequireName, tagRequireVersion, tagRequireFlags, deps.requires)
	putRelations(h, tagConflictName, tagConflictVer, tagConflictFlags, deps.conflicts)
	putRelations(h, tagObsoleteName, tagObsoleteVersion, tagObsoleteFlags, deps.obsoletes)
	putRelations(h, tagRecommendName, tagRecommendVersion, tagRecommendFlags, deps.recommends)
	putRelations(h, tagSuggestName, tagSuggestVersion, tagSuggestFlags, deps.suggests)
	putRelations(h, tagSupplementName, tagSupplementVer, tagSupplementFlags, deps.supplements)
	putRelations(h, tagEnhanceName, tagEnhanceVersion, tagEnhanceFlags, deps.enhances)

	total := files.installed
	if total < largeLimit {
		h.putInt32(tagSize, uint32(total))
	} else {
		h.putInt64(tagLongSize, uint64(total))
	}
	if files.len() > 0 {
		if err := putFiles(h, files, largeFiles); err != nil {
			return nil, err
		}
	}
	h.putInt32(tagFileDigestAlgo, hashAlgoSHA256)

	h.putString(tagPayloadFormat, "cpio")
	putOptional(h, tagPayloadCompressor, comp.compressor())
	h.putString(tagPayloadFlags, comp.flags())
	h.putStrings(tagPayloadDigest, []string{pl.digest})
	h.putInt32(tagPayloadDigestAlgo, hashAlgoSHA256)
	h.putStrings(tagPayloadDigestAlt, []string{pl.altDigest})
	h.putString(tagEncoding, "utf-8")
	return h, nil
}

func putOptional(h *header, tag uint32, v string) {
	if v != "" {
		h.putString(tag, v)
	}
}

// putFiles writes the per-file arrays, one element per file in path order.
//
// The arrays are tens of MB on a venv of 100k files, so none is built in
// memory: a first pass over the files sizes each tag, the header reserves
// the space in its encoding (see header.reserve), and a second pass, run
// when the header is marshalled, writes every tag's element of each file
// through the tag's writer.
func putFiles(h *header, files *fileList, largeFiles bool) error {
	n := files.len()
	var linkLen, userLen, groupLen, baseLen, digestLen, dirLen int
	// Directories are numbered in order of first appearance. A venv has
	// almost as many directories as files (Django's locale trees), so they
	// are known by a 128-bit hash of their path, not by the path: both
	// passes meet them in the same order and give them the same numbers,
	// and the second writes each name as it first meets it.
	dirs := newDirIndex()
	err := files.eachWithSum(func(i int, f *file) error {
		if f.isSymlink {
			linkLen += len(f.Link)
		}
		userLen += len(f.user)
		groupLen += len(f.group)
		baseLen += len(f.base)
		if f.hasSum {
			digestLen += 2 * sha256.Size
		}
		if _, first := dirs.index(f.dir); first {
			dirLen += len(f.dir) + 1
		}
		return nil
	})
	if err != nil {
		return err
	}
	sizeWidth := 4
	sizeTag, sizeType := uint32(tagFileSizes), uint32(typeInt32)
	if largeFiles {
		sizeWidth, sizeTag, sizeType = 8, tagLongFileSizes, typeInt64
	}
	sizes := h.reserve(sizeTag, sizeType, n, sizeWidth*n)
	modes := h.reserve(tagFileModes, typeInt16, n, 2*n)
	rdevs := h.reserve(tagFileRDevs, typeInt16, n, 2*n)
	mtimes := h.reserve(tagFileMTimes, typeInt32, n, 4*n)
	digests := h.reserve(tagFileDigests, typeStringArray, n, digestLen+n)
	linktos := h.reserve(tagFileLinkTos, typeStringArray, n, linkLen+n)
	flags := h.reserve(tagFileFlags, typeInt32, n, 4*n)
	users := h.reserve(tagFileUserName, typeStringArray, n, userLen+n)
	groups := h.reserve(tagFileGroupName, typeStringArray, n, groupLen+n)
	verify := h.reserve(tagFileVerifyFlags, typeInt32, n, 4*n)
	devices := h.reserve(tagFileDevices, typeInt32, n, 4*n)
	inodes := h.reserve(tagFileInodes, typeInt32, n, 4*n)
	langs := h.reserve(tagFileLangs, typeStringArray, n, n) // all ""
	colors := h.reserve(tagFileColors, typeInt32, n, 4*n)
	dirIdx := h.reserve(tagDirIndexes, typeInt32, n, 4*n)
	bases := h.reserve(tagBaseNames, typeStringArray, n, baseLen+n)
	ndirs := dirs.len()
	dirnames := h.reserve(tagDirNames, typeStringArray, ndirs, dirLen)

	h.fill = func() error {
		be := binary.BigEndian
		var b [8]byte
		u16 := func(w *tagWriter, v uint16) { be.PutUint16(b[:], v); w.Write(b[:2]) }
		u32 := func(w *tagWriter, v uint32) { be.PutUint32(b[:], v); w.Write(b[:4]) }
		nul := []byte{0}
		str := func(w *tagWriter, s string) { w.WriteString(s); w.Write(nul) }
		var hexSum [2 * sha256.Size]byte
		count := 0
		var nextDir uint32
		err := files.eachWithSum(func(i int, f *file) error {
			if i != count {
				return errSourceChanged
			}
			count++
			if largeFiles {
				be.PutUint64(b[:], uint64(f.size))
				sizes.Write(b[:8])
			} else {
				u32(sizes, uint32(f.size))
			}
			u16(modes, uint16(f.mode))
			u16(rdevs, 0)
			u32(mtimes, f.mtime)
			if f.hasSum {
				hex.Encode(hexSum[:], f.sum[:])
				digests.Write(hexSum[:])
			}
			digests.Write(nul)
			if f.isSymlink {
				linktos.WriteString(f.Link)
			}
			linktos.Write(nul)
			u32(flags, uint32(f.flags))
			str(users, f.user)
			str(groups, f.group)
			u32(verify, f.verifyMask)
			u32(devices, 1)
			u32(inodes, uint32(i+1))
			langs.Write(nul)
			u32(colors, f.color)
			// Numbered by the first pass; the first time a number comes
			// up is when this pass meets the directory first.
			di, isNew := dirs.index(f.dir)
			switch {
			case isNew || di > nextDir:
				return errSourceChanged
			case di == nextDir:
				str(dirnames, f.dir)
				nextDir++
			}
			u32(dirIdx, di)
			str(bases, f.base)
			return nil
		})
		if err == nil && count != n {
			err = errSourceChanged
		}
		return err
	}
	return nil
}

// dirIndex numbers directories in order of first appearance, by a 128-bit
// hash of their path (two 64-bit maphashes with independent seeds).
type dirIndex struct {
	seeds [2]maphash.Seed
	m     map[[2]uint64]uint32
}

func newDirIndex() *dirIndex {
	return &dirIndex{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, m: map[[2]uint64]uint32{}}
}

func (d *dirIndex) len() int { return len(d.m) }

// index returns dir's number, and whether dir was new.
func (d *dirIndex) index(dir string) (uint32, bool) {
	k := [2]uint64{maphash.String(d.seeds[0], dir), maphash.String(d.seeds[1], dir)}
	if i, ok := d.m[k]; ok {
		return i, false
	}
	i := uint32(len(d.m))
	d.m[k] = i
	return i, true
}
