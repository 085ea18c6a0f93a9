package rpm

import (
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
	n := len(files)
	var (
		sizes      = make([]uint32, n)
		longSizes  = make([]uint64, n)
		modes      = make([]uint16, n)
		rdevs      = make([]uint16, n)
		mtimes     = make([]uint32, n)
		digests    = make([]string, n)
		links      = make([]string, n)
		flags      = make([]uint32, n)
		users      = make([]string, n)
		groups     = make([]string, n)
		verify     = make([]uint32, n)
		devices    = make([]uint32, n)
		inodes     = make([]uint32, n)
		langs      = make([]string, n)
		colors     = make([]uint32, n)
		basenames  = make([]string, n)
		dirIndexes = make([]uint32, n)
		dirnames   []string
	)
	dirIndex := map[string]uint32{}
	for i := range files {
		f := &files[i]
		sizes[i], longSizes[i] = uint32(f.size), uint64(f.size)
		modes[i] = uint16(f.mode)
		mtimes[i] = f.mtime
		digests[i] = f.digest
		if f.isSymlink {
			links[i] = f.Link
		}
		flags[i] = uint32(f.flags)
		users[i], groups[i] = f.user, f.group
		verify[i] = f.verifyMask
		devices[i] = 1
		inodes[i] = uint32(i + 1)
		colors[i] = f.color
		basenames[i] = f.base
		di, ok := dirIndex[f.dir]
		if !ok {
			di = uint32(len(dirnames))
			dirIndex[f.dir] = di
			dirnames = append(dirnames, f.dir)
		}
		dirIndexes[i] = di
	}
	if largeFiles {
		h.putInt64(tagLongFileSizes, longSizes...)
	} else {
		h.putInt32(tagFileSizes, sizes...)
	}
	h.putInt16(tagFileModes, modes)
	h.putInt16(tagFileRDevs, rdevs)
	h.putInt32(tagFileMTimes, mtimes...)
	h.putStrings(tagFileDigests, digests)
	h.putStrings(tagFileLinkTos, links)
	h.putInt32(tagFileFlags, flags...)
	h.putStrings(tagFileUserName, users)
	h.putStrings(tagFileGroupName, groups)
	h.putInt32(tagFileVerifyFlags, verify...)
	h.putInt32(tagFileDevices, devices...)
	h.putInt32(tagFileInodes, inodes...)
	h.putStrings(tagFileLangs, langs)
	h.putInt32(tagFileColors, colors...)
	h.putInt32(tagDirIndexes, dirIndexes...)
	h.putStrings(tagBaseNames, basenames)
	h.putStrings(tagDirNames, dirnames)
}
