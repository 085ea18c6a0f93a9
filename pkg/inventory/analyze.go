package inventory

import (
	"fmt"
	"sort"
	"strings"
)

// Provenance says whether an installed package is one we published.
type Provenance string

// Provenances.
const (
	// Published: a catalog package has the same NEVRA and header digest.
	Published Provenance = "published"
	// Unverified: same NEVRA, but neither side has a digest to compare.
	Unverified Provenance = "unverified"
	// DigestMismatch: same NEVRA, different header digest (rebuilt elsewhere or altered).
	DigestMismatch Provenance = "digest-mismatch"
	// Unpublished: no catalog package has this NEVRA.
	Unpublished Provenance = "unpublished"
	// NotInstalled: the row is a channel package the host lacks.
	NotInstalled Provenance = "not-installed"
	// NoCatalog: nothing to compare with.
	NoCatalog Provenance = "no-catalog"
)

// Drift is where an installed package stands against the host's channel.
type Drift string

// Drift states.
const (
	Current      Drift = "current"        // the channel's latest
	Behind       Drift = "behind"         // older than the channel's latest (Row.Behind releases)
	Ahead        Drift = "ahead"          // newer than anything in the channel
	Missing      Drift = "missing"        // in the channel, not installed
	NotInChannel Drift = "not-in-channel" // the channel does not carry the package
	NoChannel    Drift = "no-channel"     // the host has no (known) channel
)

// Row is one package on one host.
type Row struct {
	Name      string
	Arch      string
	Installed *Installed // nil when Drift is Missing
	// Published is the catalog package with the installed NEVRA (the one in
	// the host's channel when several channels hold it); nil if none.
	Published   *PublishedPackage
	PublishedIn []string // channels holding the installed NEVRA
	Provenance  Provenance
	Drift       Drift
	// Behind counts the distinct EVRs in the channel newer than the
	// installed one; Available is the channel's latest EVR.
	Behind     int
	Available  string
	Components []Component // from the published package's SBOM (published/unverified only)
}

// HostReport is everything known about one host.
type HostReport struct {
	Info    HostInfo
	Data    *HostData
	Channel string // the channel drift is measured against ("" if none)
	Rows    []Row
}

// OS is the host's OS name and version: hosts.toml, else the dump.
func (h *HostReport) OS() string {
	if h.Info.OS != "" {
		return h.Info.OS
	}
	if h.Data != nil {
		return h.Data.OSRelease
	}
	return ""
}

// AssetID is the UNIQUE ASSET IDENTIFIER: hosts.toml asset_id, else the name.
func (h *HostReport) AssetID() string {
	if h.Info.AssetID != "" {
		return h.Info.AssetID
	}
	return h.Info.Name
}

// DNS is hosts.toml dns, else the host name when it is a qualified name.
func (h *HostReport) DNS() string {
	if h.Info.DNS != "" {
		return h.Info.DNS
	}
	if strings.Contains(h.Info.Name, ".") {
		return h.Info.Name
	}
	return ""
}

// Channel is one channel's contents.
type Channel struct {
	Name     string
	Packages []PublishedPackage // sorted by name, then newest first
}

// Report is the analysis of all hosts.
type Report struct {
	Hosts    []HostReport
	Channels []Channel
	Warnings []string
}

// Options control Analyze.
type Options struct {
	// All keeps every installed package; by default only packages some
	// channel carries are reported (the OS's own packages are left out).
	// Without a catalog every package is kept.
	All bool
}

// Analyze matches the hosts' installed packages against the catalog (nil
// for none) and the hosts.toml entries (nil for none).
func Analyze(hosts *Hosts, data []*HostData, cat Catalog, opt Options) (*Report, error) {
	rep := &Report{}
	idx, err := indexCatalog(cat)
	if err != nil {
		return nil, err
	}
	rep.Channels = idx.channels
	seen := map[string]string{}
	for _, d := range data {
		info, ok := hosts.Find(d.Name)
		if !ok {
			info = HostInfo{Name: d.Name}
			if hosts != nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("host %s (%s): not in %s", d.Name, d.Source, hosts.Path))
			}
		}
		if prev, dup := seen[strings.ToLower(info.Name)]; dup {
			return nil, fmt.Errorf("inventory: host %s is given twice: %s and %s", info.Name, prev, d.Source)
		}
		seen[strings.ToLower(info.Name)] = d.Source
		hr := HostReport{Info: info, Data: d}
		hr.Channel, err = idx.channelFor(info, rep)
		if err != nil {
			return nil, err
		}
		hr.Rows = idx.rows(d.Packages, hr.Channel, cat != nil, opt.All || cat == nil)
		rep.Hosts = append(rep.Hosts, hr)
	}
	if hosts != nil {
		for _, h := range hosts.Hosts {
			if _, ok := seen[strings.ToLower(h.Name)]; !ok {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("host %s: in %s but no dump or rpmdb was given for it", h.Name, hosts.Path))
			}
		}
	}
	sort.SliceStable(rep.Hosts, func(i, j int) bool { return rep.Hosts[i].Info.Name < rep.Hosts[j].Info.Name })
	return rep, nil
}

type catalogIndex struct {
	channels []Channel
	byName   map[string]map[string][]PublishedPackage // channel -> name -> packages
	byNEVRA  map[string][]nevraHit
	names    map[string]bool // every name some channel carries
}

type nevraHit struct {
	channel string
	pkg     PublishedPackage
}

func indexCatalog(cat Catalog) (*catalogIndex, error) {
	idx := &catalogIndex{byName: map[string]map[string][]PublishedPackage{}, byNEVRA: map[string][]nevraHit{}, names: map[string]bool{}}
	if cat == nil {
		return idx, nil
	}
	names := append([]string(nil), cat.Channels()...)
	sort.Strings(names)
	for _, ch := range names {
		pkgs, err := cat.Packages(ch)
		if err != nil {
			return nil, fmt.Errorf("inventory: channel %s: %w", ch, err)
		}
		pkgs = append([]PublishedPackage(nil), pkgs...)
		sort.SliceStable(pkgs, func(i, j int) bool {
			a, b := pkgs[i], pkgs[j]
			if a.Name != b.Name {
				return a.Name < b.Name
			}
			if c := CompareEVR(a.Epoch, a.Version, a.Release, b.Epoch, b.Version, b.Release); c != 0 {
				return c > 0
			}
			return a.Arch < b.Arch
		})
		idx.channels = append(idx.channels, Channel{Name: ch, Packages: pkgs})
		m := map[string][]PublishedPackage{}
		for _, p := range pkgs {
			m[p.Name] = append(m[p.Name], p)
			idx.names[p.Name] = true
			idx.byNEVRA[p.NEVRA()] = append(idx.byNEVRA[p.NEVRA()], nevraHit{ch, p})
		}
		idx.byName[ch] = m
	}
	return idx, nil
}

func (idx *catalogIndex) channelFor(info HostInfo, rep *Report) (string, error) {
	switch {
	case len(idx.channels) == 0:
		return "", nil
	case info.Channel != "":
		if _, ok := idx.byName[info.Channel]; ok {
			return info.Channel, nil
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("host %s: channel %q is not in the catalog (it has: %s)", info.Name, info.Channel, strings.Join(idx.channelNames(), ", ")))
		return "", nil
	case len(idx.channels) == 1:
		return idx.channels[0].Name, nil
	}
	rep.Warnings = append(rep.Warnings, fmt.Sprintf("host %s: no channel in hosts.toml and the catalog has several (%s): drift not measured", info.Name, strings.Join(idx.channelNames(), ", ")))
	return "", nil
}

func (idx *catalogIndex) channelNames() []string {
	var out []string
	for _, c := range idx.channels {
		out = append(out, c.Name)
	}
	return out
}

func archCompatible(installed, published string) bool {
	return installed == published || installed == "noarch" || published == "noarch"
}

func (idx *catalogIndex) rows(installed []Installed, channel string, haveCatalog, all bool) []Row {
	var rows []Row
	have := map[string]bool{}
	for i := range installed {
		p := installed[i]
		have[p.Name] = true
		if !all && !idx.names[p.Name] {
			continue
		}
		r := Row{Name: p.Name, Arch: p.Arch, Installed: &p, Provenance: NoCatalog, Drift: NoChannel}
		if haveCatalog {
			r.Provenance = Unpublished
			for _, hit := range idx.byNEVRA[p.NEVRA()] {
				r.PublishedIn = append(r.PublishedIn, hit.channel)
				prov := compareDigests(p, hit.pkg)
				if r.Published == nil || rank(prov) < rank(r.Provenance) || (rank(prov) == rank(r.Provenance) && hit.channel == channel) {
					pub := hit.pkg
					r.Published, r.Provenance = &pub, prov
				}
			}
			if r.Provenance == Published || r.Provenance == Unverified {
				r.Components = r.Published.Components
			}
		}
		if channel != "" {
			var cands []PublishedPackage
			for _, c := range idx.byName[channel][p.Name] {
				if archCompatible(p.Arch, c.Arch) {
					cands = append(cands, c)
				}
			}
			r.Drift = NotInChannel
			if len(cands) > 0 {
				latest := cands[0] // newest first
				r.Available = latest.EVR()
				newer := map[string]bool{}
				for _, c := range cands {
					if CompareEVR(c.Epoch, c.Version, c.Release, p.Epoch, p.Version, p.Release) > 0 {
						newer[c.EVR()] = true
					}
				}
				switch cmp := CompareEVR(p.Epoch, p.Version, p.Release, latest.Epoch, latest.Version, latest.Release); {
				case cmp == 0:
					r.Drift = Current
				case cmp < 0:
					r.Drift, r.Behind = Behind, len(newer)
				default:
					r.Drift = Ahead
				}
			}
		}
		rows = append(rows, r)
	}
	if channel != "" {
		var names []string
		for n := range idx.byName[channel] {
			if !have[n] {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			latest := idx.byName[channel][n][0]
			rows = append(rows, Row{Name: n, Arch: latest.Arch, Provenance: NotInstalled, Drift: Missing, Available: latest.EVR()})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Name != rows[j].Name {
			return rows[i].Name < rows[j].Name
		}
		return rows[i].Arch < rows[j].Arch
	})
	return rows
}

func rank(p Provenance) int {
	switch p {
	case Published:
		return 0
	case Unverified:
		return 1
	case DigestMismatch:
		return 2
	}
	return 3
}

func compareDigests(i Installed, p PublishedPackage) Provenance {
	switch {
	case i.SHA256Header != "" && p.SHA256Header != "":
		if strings.EqualFold(i.SHA256Header, p.SHA256Header) {
			return Published
		}
		return DigestMismatch
	case i.SIGMD5 != "" && p.SIGMD5 != "":
		if strings.EqualFold(i.SIGMD5, p.SIGMD5) {
			return Published
		}
		return DigestMismatch
	}
	return Unverified
}
