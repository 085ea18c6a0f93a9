package repo

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The types below parse repodata as a client would, to compare what we
// write with what createrepo_c writes field by field.

type xVersion struct {
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
}

type xEntry struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr"`
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
	Pre   string `xml:"pre,attr"`
}

type xFile struct {
	Type string `xml:"type,attr"`
	Path string `xml:",chardata"`
}

type xChangelog struct {
	Author string `xml:"author,attr"`
	Date   string `xml:"date,attr"`
	Text   string `xml:",chardata"`
}

// xPackage is one package, merged from the three files.
type xPackage struct {
	Type     string   `xml:"type,attr"`
	Name     string   `xml:"name"`
	Arch     string   `xml:"arch"`
	Version  xVersion `xml:"version"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		PkgID string `xml:"pkgid,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	Summary     string `xml:"summary"`
	Description string `xml:"description"`
	Packager    string `xml:"packager"`
	URL         string `xml:"url"`
	Time        struct {
		File  string `xml:"file,attr"`
		Build string `xml:"build,attr"`
	} `xml:"time"`
	Size struct {
		Package   string `xml:"package,attr"`
		Installed string `xml:"installed,attr"`
		Archive   string `xml:"archive,attr"`
	} `xml:"size"`
	Location struct {
		Href string `xml:"href,attr"`
		Base string `xml:"http://www.w3.org/XML/1998/namespace base,attr"`
	} `xml:"location"`
	Format struct {
		License     string `xml:"license"`
		Vendor      string `xml:"vendor"`
		Group       string `xml:"group"`
		BuildHost   string `xml:"buildhost"`
		SourceRPM   string `xml:"sourcerpm"`
		HeaderRange struct {
			Start string `xml:"start,attr"`
			End   string `xml:"end,attr"`
		} `xml:"header-range"`
		Provides    []xEntry `xml:"provides>entry"`
		Requires    []xEntry `xml:"requires>entry"`
		Conflicts   []xEntry `xml:"conflicts>entry"`
		Obsoletes   []xEntry `xml:"obsoletes>entry"`
		Suggests    []xEntry `xml:"suggests>entry"`
		Enhances    []xEntry `xml:"enhances>entry"`
		Recommends  []xEntry `xml:"recommends>entry"`
		Supplements []xEntry `xml:"supplements>entry"`
		Files       []xFile  `xml:"file"`
	} `xml:"format"`

	// From filelists.xml and other.xml.
	Filelists struct {
		PkgID, Name, Arch string
		Version           xVersion
		Files             []xFile
	}
	Other struct {
		PkgID, Name, Arch string
		Version           xVersion
		Changelogs        []xChangelog
	}
}

type xSide struct {
	PkgID   string       `xml:"pkgid,attr"`
	Name    string       `xml:"name,attr"`
	Arch    string       `xml:"arch,attr"`
	Version xVersion     `xml:"version"`
	Files   []xFile      `xml:"file"`
	Changes []xChangelog `xml:"changelog"`
}

// parsedRepo is a parsed repository: packages in file order.
type parsedRepo struct {
	md       *Repomd
	packages []*xPackage
	counts   [numKinds]int // packages="" of each file
}

func parseRepo(t testing.TB, dir string) *parsedRepo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := ParseRepomd(b)
	if err != nil {
		t.Fatal(err)
	}
	r := &parsedRepo{md: md}
	var sides [numKinds][]xSide
	for k := range numKinds {
		rec := md.Record(kindNames[k])
		if rec == nil {
			t.Fatalf("%s: no %s record", dir, kindNames[k])
		}
		raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rec.Location)))
		if err != nil {
			t.Fatal(err)
		}
		data, err := decompress(rec.Location, raw)
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(data))
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", rec.Location, err)
			}
			se, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			if se.Name.Local != "package" {
				for _, a := range se.Attr {
					if a.Name.Local == "packages" {
						fmt.Sscan(a.Value, &r.counts[k])
					}
				}
				continue
			}
			if k == Primary {
				var p xPackage
				if err := d.DecodeElement(&p, &se); err != nil {
					t.Fatal(err)
				}
				r.packages = append(r.packages, &p)
				continue
			}
			var s xSide
			if err := d.DecodeElement(&s, &se); err != nil {
				t.Fatal(err)
			}
			sides[k] = append(sides[k], s)
		}
	}
	for k := Filelists; k < numKinds; k++ {
		if len(sides[k]) != len(r.packages) {
			t.Fatalf("%s: %d packages in primary, %d in %s", dir, len(r.packages), len(sides[k]), kindNames[k])
		}
		for i, s := range sides[k] {
			p := r.packages[i]
			if k == Filelists {
				p.Filelists.PkgID, p.Filelists.Name, p.Filelists.Arch, p.Filelists.Version, p.Filelists.Files = s.PkgID, s.Name, s.Arch, s.Version, s.Files
			} else {
				p.Other.PkgID, p.Other.Name, p.Other.Arch, p.Other.Version, p.Other.Changelogs = s.PkgID, s.Name, s.Arch, s.Version, s.Changes
			}
		}
	}
	for k := range numKinds {
		if r.counts[k] != len(r.packages) {
			t.Fatalf("%s: %s says packages=%d, lists %d", dir, kindNames[k], r.counts[k], len(r.packages))
		}
	}
	return r
}

// byPkgID indexes packages by pkgid.
func (r *parsedRepo) byPkgID() map[string]*xPackage {
	m := map[string]*xPackage{}
	for _, p := range r.packages {
		m[p.Checksum.Value] = p
	}
	return m
}

// diffFields names the fields in which a and b differ, recursively, as
// "Format.Requires: got ..., want ...".
func diffFields(prefix string, got, want reflect.Value) []string {
	if reflect.DeepEqual(got.Interface(), want.Interface()) {
		return nil
	}
	switch got.Kind() {
	case reflect.Pointer:
		return diffFields(prefix, got.Elem(), want.Elem())
	case reflect.Struct:
		var out []string
		for i := 0; i < got.NumField(); i++ {
			name := got.Type().Field(i).Name
			if prefix != "" {
				name = prefix + "." + name
			}
			out = append(out, diffFields(name, got.Field(i), want.Field(i))...)
		}
		return out
	}
	return []string{fmt.Sprintf("%s:\n\tgot  %+v\n\twant %+v", prefix, got.Interface(), want.Interface())}
}

func comparePackages(got, want *xPackage) []string {
	return diffFields("", reflect.ValueOf(got), reflect.ValueOf(want))
}

// fieldNames lists the compared fields, for the test log.
func fieldNames() string {
	var names []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			n := f.Name
			if prefix != "" {
				n = prefix + "." + n
			}
			if f.Type.Kind() == reflect.Struct && f.Type.NumField() > 0 && f.Type.Name() == "" {
				walk(n, f.Type)
				continue
			}
			names = append(names, n)
		}
	}
	walk("", reflect.TypeOf(xPackage{}))
	return strings.Join(names, " ")
}
