package rpm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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
func resolveDeps(md *Metadata, files []file, comp compression, largeFiles bool) dependencies {
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
	for i := range files {
		if files[i].flags&FileConfig != 0 {
			cfg := Relation{Name: "config(" + md.Name + ")", Flags: SenseConfig | SenseEqual, Version: evr}
			prov = append(prov, cfg)
			req = append(req, cfg)
			break
		}
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
func mainHeader(md *Metadata, files []file, deps dependencies, comp compression, pl payloadInfo, largeFiles bool) *header {
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

	var total int64
	for i := range files {
		if f := &files[i]; f.isRegular || f.isSymlink {
			total += f.size
		}
	}
	if total < largeLimit {
		h.putInt32(tagSize, uint32(total))
	} else {
		h.putInt64(tagLongSize, uint64(total))
	}
	if len(files) > 0 {
		putFiles(h, files, largeFiles)
	}
	h.putInt32(tagFileDigestAlgo, hashAlgoSHA256)

	h.putString(tagPayloadFormat, "cpio")
	putOptional(h, tagPayloadCompressor, comp.compressor())
	h.putString(tagPayloadFlags, comp.flags())
	h.putStrings(tagPayloadDigest, []string{pl.digest})
	h.putInt32(tagPayloadDigestAlgo, hashAlgoSHA256)
	h.putStrings(tagPayloadDigestAlt, []string{pl.altDigest})
	h.putString(tagEncoding, "utf-8")
	return h
}

func putOptional(h *header, tag uint32, v string) {
	if v != "" {
		h.putString(tag, v)
	}
}

// putFiles writes the per-file arrays, one element per file in path order.
func putFiles(h *header, files []file, largeFiles bool) {
	// Each tag is encoded straight from files, one at a time, so that no
	// per-file slice of strings is built: with 100k files those would
	// hold tens of MB more at the package's peak.
	n := len(files)
	int32s := func(tag uint32, v func(f *file, i int) uint32) {
		b := make([]byte, 4*n)
		for i := range files {
			binary.BigEndian.PutUint32(b[4*i:], v(&files[i], i))
		}
		h.put(tag, typeInt32, uint32(n), b)
	}
	strs := func(tag uint32, v func(f *file) string) {
		size := 0
		for i := range files {
			size += len(v(&files[i])) + 1
		}
		b := make([]byte, 0, size)
		for i := range files {
			b = append(b, v(&files[i])...)
			b = append(b, 0)
		}
		h.put(tag, typeStringArray, uint32(n), b)
	}
	if largeFiles {
		b := make([]byte, 8*n)
		for i := range files {
			binary.BigEndian.PutUint64(b[8*i:], uint64(files[i].size))
		}
		h.put(tagLongFileSizes, typeInt64, uint32(n), b)
	} else {
		int32s(tagFileSizes, func(f *file, _ int) uint32 { return uint32(f.size) })
	}
	modes := make([]byte, 2*n)
	for i := range files {
		binary.BigEndian.PutUint16(modes[2*i:], uint16(files[i].mode))
	}
	h.put(tagFileModes, typeInt16, uint32(n), modes)
	h.put(tagFileRDevs, typeInt16, uint32(n), make([]byte, 2*n))
	int32s(tagFileMTimes, func(f *file, _ int) uint32 { return f.mtime })
	digests := make([]byte, 0, (2*sha256.Size+1)*n)
	for i := range files {
		if f := &files[i]; f.hasSum {
			digests = hex.AppendEncode(digests, f.sum[:])
		}
		digests = append(digests, 0)
	}
	h.put(tagFileDigests, typeStringArray, uint32(n), digests)
	strs(tagFileLinkTos, func(f *file) string {
		if f.isSymlink {
			return f.Link
		}
		return ""
	})
	int32s(tagFileFlags, func(f *file, _ int) uint32 { return uint32(f.flags) })
	strs(tagFileUserName, func(f *file) string { return f.user })
	strs(tagFileGroupName, func(f *file) string { return f.group })
	int32s(tagFileVerifyFlags, func(f *file, _ int) uint32 { return f.verifyMask })
	int32s(tagFileDevices, func(*file, int) uint32 { return 1 })
	int32s(tagFileInodes, func(_ *file, i int) uint32 { return uint32(i + 1) })
	strs(tagFileLangs, func(*file) string { return "" })
	int32s(tagFileColors, func(f *file, _ int) uint32 { return f.color })
	var dirnames []string
	dirIndex := map[string]uint32{}
	int32s(tagDirIndexes, func(f *file, _ int) uint32 {
		di, ok := dirIndex[f.dir]
		if !ok {
			di = uint32(len(dirnames))
			dirIndex[f.dir] = di
			dirnames = append(dirnames, f.dir)
		}
		return di
	})
	strs(tagBaseNames, func(f *file) string { return f.base })
	h.putStrings(tagDirNames, dirnames)
}
