package export

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/rpmforge/rpmforge/pkg/inventory"
)

type jsonReport struct {
	Generated string        `json:"generated,omitempty"`
	Hosts     []jsonHost    `json:"hosts"`
	Channels  []jsonChannel `json:"channels"`
	Warnings  []string      `json:"warnings"`
}

type jsonHost struct {
	Name        string             `json:"name"`
	AssetID     string             `json:"asset_id"`
	Info        inventory.HostInfo `json:"info"`
	Channel     string             `json:"channel,omitempty"`
	OS          string             `json:"os,omitempty"`
	Source      string             `json:"source"`
	Kind        string             `json:"kind"`
	Backend     string             `json:"backend,omitempty"`
	CollectedAt string             `json:"collected_at,omitempty"`
	Packages    []jsonRow          `json:"packages"`
}

type jsonInstalled struct {
	Epoch        int    `json:"epoch"`
	Version      string `json:"version"`
	Release      string `json:"release"`
	EVR          string `json:"evr"`
	NEVRA        string `json:"nevra"`
	Vendor       string `json:"vendor,omitempty"`
	License      string `json:"license,omitempty"`
	InstallTime  string `json:"install_time,omitempty"`
	BuildTime    string `json:"build_time,omitempty"`
	SIGMD5       string `json:"sigmd5,omitempty"`
	SHA256Header string `json:"sha256header,omitempty"`
	SigningKey   string `json:"signing_key,omitempty"`
	Signature    string `json:"signature,omitempty"`
	VCS          string `json:"vcs,omitempty"`
	Commit       string `json:"commit,omitempty"`
}

type jsonRow struct {
	Name        string               `json:"name"`
	Arch        string               `json:"arch"`
	Installed   *jsonInstalled       `json:"installed,omitempty"`
	Provenance  inventory.Provenance `json:"provenance"`
	PublishedIn []string             `json:"published_in,omitempty"`
	Published   *jsonPackage         `json:"published,omitempty"`
	Drift       inventory.Drift      `json:"drift"`
	Behind      int                  `json:"behind"`
	Available   string               `json:"available,omitempty"`
	EndOfLife   string               `json:"end_of_life,omitempty"`
	Components  []jsonComponent      `json:"components"`
}

type jsonComponent struct {
	inventory.Component
	EndOfLife string `json:"end_of_life,omitempty"`
}

type jsonChannel struct {
	Name     string        `json:"name"`
	Packages []jsonPackage `json:"packages"`
}

type jsonPackage struct {
	Channel      string                `json:"channel,omitempty"`
	NEVRA        string                `json:"nevra"`
	Name         string                `json:"name"`
	Epoch        int                   `json:"epoch"`
	Version      string                `json:"version"`
	Release      string                `json:"release"`
	Arch         string                `json:"arch"`
	Summary      string                `json:"summary,omitempty"`
	SHA256       string                `json:"sha256"`
	SIGMD5       string                `json:"sigmd5,omitempty"`
	SHA256Header string                `json:"sha256header,omitempty"`
	SigningKey   string                `json:"signing_key,omitempty"`
	BuildTime    string                `json:"build_time,omitempty"`
	VCS          string                `json:"vcs,omitempty"`
	Commit       string                `json:"commit,omitempty"`
	License      string                `json:"license,omitempty"`
	Vendor       string                `json:"vendor,omitempty"`
	Path         string                `json:"path,omitempty"`
	PublishedAt  string                `json:"published_at,omitempty"`
	PromotedFrom string                `json:"promoted_from,omitempty"`
	Components   []inventory.Component `json:"components"`
}

func packageJSON(p inventory.PublishedPackage) jsonPackage {
	comps := p.Components
	if comps == nil {
		comps = []inventory.Component{}
	}
	return jsonPackage{
		Channel: p.Channel, NEVRA: p.NEVRA(), Name: p.Name, Epoch: p.Epoch, Version: p.Version, Release: p.Release, Arch: p.Arch,
		Summary: p.Summary, SHA256: p.SHA256, SIGMD5: p.SIGMD5, SHA256Header: p.SHA256Header, SigningKey: p.SigningKey,
		BuildTime: timeText(p.BuildTime), VCS: p.VCS, Commit: p.Commit(), License: p.License, Vendor: p.Vendor,
		Path: p.Path, PublishedAt: timeText(p.PublishedAt), PromotedFrom: p.PromotedFrom, Components: comps,
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// JSON writes the whole report.
func JSON(w io.Writer, rep *inventory.Report, meta Meta) error {
	out := jsonReport{Generated: timeText(meta.Generated), Hosts: []jsonHost{}, Channels: []jsonChannel{}, Warnings: rep.Warnings}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	for i := range rep.Hosts {
		h := &rep.Hosts[i]
		jh := jsonHost{
			Name: h.Info.Name, AssetID: h.AssetID(), Info: h.Info, Channel: h.Channel, OS: h.OS(),
			Source: h.Data.Source, Kind: h.Data.Kind, Backend: h.Data.Backend, CollectedAt: timeText(h.Data.CollectedAt),
			Packages: []jsonRow{},
		}
		for _, r := range h.Rows {
			jr := jsonRow{Name: r.Name, Arch: r.Arch, Provenance: r.Provenance, PublishedIn: r.PublishedIn, Drift: r.Drift,
				Behind: r.Behind, Available: r.Available, Components: []jsonComponent{}}
			if p := r.Installed; p != nil {
				jr.Installed = &jsonInstalled{
					Epoch: p.Epoch, Version: p.Version, Release: p.Release, EVR: p.EVR(), NEVRA: p.NEVRA(), Vendor: p.Vendor,
					License: p.License, InstallTime: timeText(p.InstallTime), BuildTime: timeText(p.BuildTime), SIGMD5: p.SIGMD5,
					SHA256Header: p.SHA256Header, SigningKey: p.SigningKey, Signature: p.Signature, VCS: p.VCS, Commit: commitOf(p.VCS),
				}
				jr.EndOfLife = meta.EOL.Lookup(p.Name, p.Version)
			}
			if r.Published != nil {
				pj := packageJSON(*r.Published)
				pj.Components = nil
				jr.Published = &pj
			}
			for _, c := range r.Components {
				jr.Components = append(jr.Components, jsonComponent{Component: c, EndOfLife: meta.EOL.Lookup(c.Name, c.Version)})
			}
			jh.Packages = append(jh.Packages, jr)
		}
		out.Hosts = append(out.Hosts, jh)
	}
	for _, c := range rep.Channels {
		jc := jsonChannel{Name: c.Name, Packages: []jsonPackage{}}
		for _, p := range c.Packages {
			jc.Packages = append(jc.Packages, packageJSON(p))
		}
		out.Channels = append(out.Channels, jc)
	}
	return writeJSON(w, out)
}

// RepoJSON lists published packages.
func RepoJSON(w io.Writer, pkgs []inventory.PublishedPackage) error {
	out := struct {
		Packages []jsonPackage `json:"packages"`
	}{Packages: []jsonPackage{}}
	for _, p := range pkgs {
		out.Packages = append(out.Packages, packageJSON(p))
	}
	return writeJSON(w, out)
}
