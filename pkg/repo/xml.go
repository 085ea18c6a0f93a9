package repo

import (
	"strconv"
)

// XML namespaces of the repodata files.
const (
	nsCommon    = "http://linux.duke.edu/metadata/common"
	nsRPM       = "http://linux.duke.edu/metadata/rpm"
	nsFilelists = "http://linux.duke.edu/metadata/filelists"
	nsOther     = "http://linux.duke.edu/metadata/other"
	nsRepo      = "http://linux.duke.edu/metadata/repo"
)

// Kind is one of the three package metadata files.
type Kind int

// The metadata files, in the order repomd.xml lists them.
const (
	Primary Kind = iota
	Filelists
	Other
	numKinds
)

var kindNames = [numKinds]string{"primary", "filelists", "other"}

func (k Kind) String() string { return kindNames[k] }

// fileHead returns the XML declaration and the opening root element of a
// metadata file holding n packages.
func fileHead(k Kind, n int) []byte {
	b := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	switch k {
	case Primary:
		b = append(b, `<metadata xmlns="`+nsCommon+`" xmlns:rpm="`+nsRPM+`" packages="`...)
	case Filelists:
		b = append(b, `<filelists xmlns="`+nsFilelists+`" packages="`...)
	case Other:
		b = append(b, `<otherdata xmlns="`+nsOther+`" packages="`...)
	}
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, "\">\n"...)
}

// fileTail returns the closing root element.
func fileTail(k Kind) []byte {
	switch k {
	case Primary:
		return []byte("</metadata>\n")
	case Filelists:
		return []byte("</filelists>\n")
	}
	return []byte("</otherdata>\n")
}

// What appendText and appendAttr replace each byte with ("": itself).
var (
	textEscapes = [256]string{'&': "&amp;", '<': "&lt;", '>': "&gt;", '\r': "&#13;"}
	attrEscapes = [256]string{'&': "&amp;", '<': "&lt;", '>': "&gt;", '"': "&quot;", '\n': "&#10;", '\r': "&#13;", '\t': "&#9;"}
)

// appendText appends s escaped as element content (as libxml2 writes it).
func appendText(b []byte, s string) []byte { return appendEscaped(b, s, &textEscapes) }

// appendAttr appends s escaped as an attribute value in double quotes.
func appendAttr(b []byte, s string) []byte { return appendEscaped(b, s, &attrEscapes) }

// appendEscaped appends s with each byte that has an entry in esc replaced
// by it.
func appendEscaped(b []byte, s string, esc *[256]string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		if e := esc[s[i]]; e != "" {
			b = append(b, s[last:i]...)
			b = append(b, e...)
			last = i + 1
		}
	}
	return append(b, s[last:]...)
}

// attr appends ` name="value"`.
func attr(b []byte, name, value string) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, `="`...)
	b = appendAttr(b, value)
	return append(b, '"')
}

// textElem appends `<name>text</name>` (or `<name/>` when empty) on its own
// line.
func textElem(b []byte, indent, name, text string) []byte {
	b = append(b, indent...)
	b = append(b, '<')
	b = append(b, name...)
	if text == "" {
		return append(b, "/>\n"...)
	}
	b = append(b, '>')
	b = appendText(b, text)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, ">\n"...)
}

func appendVersion(b []byte, indent string, p *Package) []byte {
	b = append(b, indent...)
	b = append(b, "<version"...)
	b = attr(b, "epoch", p.Epoch)
	b = attr(b, "ver", p.Version)
	b = attr(b, "rel", p.Release)
	return append(b, "/>\n"...)
}

// AppendPrimary appends p's <package> element of primary.xml.
func AppendPrimary(b []byte, p *Package) []byte {
	b = append(b, "<package type=\"rpm\">\n"...)
	b = textElem(b, "  ", "name", p.Name)
	b = textElem(b, "  ", "arch", p.Arch)
	b = appendVersion(b, "  ", p)
	b = append(b, `  <checksum type="sha256" pkgid="YES">`...)
	b = appendText(b, p.PkgID)
	b = append(b, "</checksum>\n"...)
	b = textElem(b, "  ", "summary", p.Summary)
	b = textElem(b, "  ", "description", p.Description)
	b = textElem(b, "  ", "packager", p.Packager)
	b = textElem(b, "  ", "url", p.URL)
	b = append(b, `  <time file="`...)
	b = strconv.AppendInt(b, p.TimeFile, 10)
	b = append(b, `" build="`...)
	b = strconv.AppendInt(b, p.TimeBuild, 10)
	b = append(b, "\"/>\n  <size package=\""...)
	b = strconv.AppendInt(b, p.SizePackage, 10)
	b = append(b, `" installed="`...)
	b = strconv.AppendInt(b, p.SizeInstalled, 10)
	b = append(b, `" archive="`...)
	b = strconv.AppendInt(b, p.SizeArchive, 10)
	b = append(b, "\"/>\n  <location"...)
	b = attr(b, "href", p.Location)
	b = append(b, "/>\n  <format>\n"...)
	b = textElem(b, "    ", "rpm:license", p.License)
	b = textElem(b, "    ", "rpm:vendor", p.Vendor)
	b = textElem(b, "    ", "rpm:group", p.Group)
	b = textElem(b, "    ", "rpm:buildhost", p.BuildHost)
	b = textElem(b, "    ", "rpm:sourcerpm", p.SourceRPM)
	b = append(b, `    <rpm:header-range start="`...)
	b = strconv.AppendInt(b, p.HeaderStart, 10)
	b = append(b, `" end="`...)
	b = strconv.AppendInt(b, p.HeaderEnd, 10)
	b = append(b, "\"/>\n"...)
	b = appendDeps(b, "rpm:provides", p.Provides, false)
	b = appendDeps(b, "rpm:requires", p.Requires, true)
	b = appendDeps(b, "rpm:conflicts", p.Conflicts, false)
	b = appendDeps(b, "rpm:obsoletes", p.Obsoletes, false)
	b = appendDeps(b, "rpm:suggests", p.Suggests, false)
	b = appendDeps(b, "rpm:enhances", p.Enhances, false)
	b = appendDeps(b, "rpm:recommends", p.Recommends, false)
	b = appendDeps(b, "rpm:supplements", p.Supplements, false)
	for _, f := range p.Files {
		if isPrimaryFile(f.Path) {
			b = appendFile(b, "    ", f)
		}
	}
	return append(b, "  </format>\n</package>\n"...)
}

func appendDeps(b []byte, elem string, deps []Dependency, requires bool) []byte {
	if len(deps) == 0 {
		return b
	}
	b = append(b, "    <"...)
	b = append(b, elem...)
	b = append(b, ">\n"...)
	for _, d := range deps {
		if d.Name == "" {
			continue
		}
		b = append(b, "      <rpm:entry"...)
		b = attr(b, "name", d.Name)
		if d.Flags != "" {
			b = attr(b, "flags", d.Flags)
			if d.Epoch != "" {
				b = attr(b, "epoch", d.Epoch)
			}
			if d.Version != "" {
				b = attr(b, "ver", d.Version)
			}
			if d.Release != "" {
				b = attr(b, "rel", d.Release)
			}
		}
		if requires && d.Pre {
			b = append(b, ` pre="1"`...)
		}
		b = append(b, "/>\n"...)
	}
	b = append(b, "    </"...)
	b = append(b, elem...)
	return append(b, ">\n"...)
}

func appendFile(b []byte, indent string, f File) []byte {
	b = append(b, indent...)
	b = append(b, "<file"...)
	if f.Type != "" {
		b = attr(b, "type", f.Type)
	}
	if f.Path == "" {
		return append(b, "/>\n"...)
	}
	b = append(b, '>')
	b = appendText(b, f.Path)
	return append(b, "</file>\n"...)
}

func appendPackageOpen(b []byte, p *Package) []byte {
	b = append(b, "<package"...)
	b = attr(b, "pkgid", p.PkgID)
	b = attr(b, "name", p.Name)
	b = attr(b, "arch", p.Arch)
	b = append(b, ">\n"...)
	return appendVersion(b, "  ", p)
}

// AppendFilelists appends p's <package> element of filelists.xml.
func AppendFilelists(b []byte, p *Package) []byte {
	b = appendPackageOpen(b, p)
	for _, f := range p.Files {
		b = appendFile(b, "  ", f)
	}
	return append(b, "</package>\n"...)
}

// AppendOther appends p's <package> element of other.xml.
func AppendOther(b []byte, p *Package) []byte {
	b = appendPackageOpen(b, p)
	for _, c := range p.Changelogs {
		b = append(b, "  <changelog"...)
		b = attr(b, "author", c.Author)
		b = append(b, ` date="`...)
		b = strconv.AppendInt(b, c.Date, 10)
		b = append(b, '"')
		if c.Text == "" {
			b = append(b, "/>\n"...)
			continue
		}
		b = append(b, '>')
		b = appendText(b, c.Text)
		b = append(b, "</changelog>\n"...)
	}
	return append(b, "</package>\n"...)
}

// appendKind appends p's element of metadata file k.
func appendKind(b []byte, k Kind, p *Package) []byte {
	switch k {
	case Primary:
		return AppendPrimary(b, p)
	case Filelists:
		return AppendFilelists(b, p)
	}
	return AppendOther(b, p)
}
