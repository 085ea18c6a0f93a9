package export

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/rpmforge/rpmforge/pkg/inventory"
)

// The page is static and self-contained: inline CSS, no script, no fetch.
const css = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9d1d9}
main{padding:8px 28px 40px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;margin:18px 0}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d8dee4;padding:5px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}
td.path{overflow-wrap:anywhere;font-size:12px}
.nowrap{white-space:nowrap}
th{background:#f0f3f6;font-weight:600}
td.num{text-align:right}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12.5px}
.matrix td.cell{min-width:150px}
.evr{display:block;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-weight:600}
.note{display:block;font-size:12px}
.drift-current{background:#dafbe1}
.drift-behind{background:#fff1c2}
.drift-ahead{background:#ddf4ff}
.drift-missing{background:#ffd8d3}
.drift-not-in-channel,.drift-no-channel{background:#f0f3f6;color:#57606a}
.absent{background:#fafbfc;color:#8c959f;text-align:center}
.prov-digest-mismatch{outline:3px solid #cf222e;outline-offset:-3px}
.prov-unpublished .evr{font-style:italic}
.warn{background:#fff8c5;border-color:#d4a72c}
.warn li{margin:2px 0}
.legend span{display:inline-block;padding:2px 8px;margin:6px 6px 0 0;border:1px solid #d0d7de;border-radius:4px;font-size:12px}
.muted{color:#57606a}
.eol-past{color:#cf222e;font-weight:600}
`

const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p>{{if .Generated}}Generated {{.Generated}} · {{end}}{{len .Hosts}} host{{if ne (len .Hosts) 1}}s{{end}} · {{len .Apps}} application{{if ne (len .Apps) 1}}s{{end}} · {{len .Channels}} channel{{if ne (len .Channels) 1}}s{{end}}{{if .Tool}} · {{.Tool}}{{end}}</p>
</header>
<main>
{{if .Warnings}}<section class="warn"><h2>Warnings</h2><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul></section>{{end}}
{{if .Hosts}}<section>
<h2>Drift matrix</h2>
<table class="matrix">
<tr><th>Host</th><th>Channel</th>{{range .Apps}}<th>{{.}}</th>{{end}}</tr>
{{range .Matrix}}<tr><th class="nowrap">{{.Host}}</th><td>{{or .Channel "—"}}</td>{{range .Cells}}{{if .Entries}}<td class="cell drift-{{.Drift}} prov-{{.Provenance}}">{{range .Entries}}<span class="evr">{{.EVR}}</span><span class="note">{{.Note}}</span>{{end}}</td>{{else}}<td class="absent">·</td>{{end}}{{end}}</tr>
{{end}}</table>
<div class="legend"><span class="drift-current">current</span><span class="drift-behind">behind the channel</span><span class="drift-ahead">ahead of the channel</span><span class="drift-missing">in the channel, not installed</span><span class="drift-not-in-channel">not in the host's channel</span><span class="prov-digest-mismatch">same NEVRA, different digest</span><span><i>italic</i>: never published by us</span></div>
</section>
<section>
<h2>Hosts</h2>
<table>
<tr><th>Host</th><th>Asset ID</th><th>Address</th><th>Channel</th><th>OS</th><th>Owner</th><th>Function</th><th>Source</th><th>Collected</th><th>Packages</th></tr>
{{range .HostRows}}<tr><td class="nowrap">{{.Name}}</td><td>{{.AssetID}}</td><td class="mono nowrap">{{.Address}}</td><td>{{.Channel}}</td><td>{{.OS}}</td><td>{{.Owner}}</td><td>{{.Function}}</td><td class="mono path">{{.Source}}</td><td class="nowrap">{{.Collected}}</td><td class="num">{{.Packages}}</td></tr>
{{end}}</table>
</section>{{end}}
{{range .Channels}}<section>
<h2>{{if $.IsRepo}}Packages{{else}}Channel {{.Name}}{{end}}</h2>
{{template "packages" .Packages}}
</section>
{{end}}
{{if .Components}}<section>
<h2>Python components</h2>
<table>
<tr><th>Component</th><th>Version</th><th>Licence</th>{{if .HaveEOL}}<th>End of life</th>{{end}}<th>{{if .IsRepo}}Packages{{else}}Where it runs{{end}}</th></tr>
{{range .Components}}<tr><td>{{.Name}}</td><td class="mono nowrap">{{.Version}}</td><td>{{.License}}</td>{{if $.HaveEOL}}<td>{{.EOL}}</td>{{end}}<td>{{range $i, $w := .Where}}{{if $i}}<br>{{end}}{{$w}}{{end}}</td></tr>
{{end}}</table>
</section>{{end}}
</main>
</body>
</html>
{{define "packages"}}<table>
<tr><th>Package</th><th>Build time</th><th>Signing key</th><th>Commit</th><th>Licence</th><th>Vendor</th><th>SHA-256</th><th>Python components</th></tr>
{{range .}}<tr><td class="mono">{{.NEVRA}}</td><td class="nowrap">{{.BuildTime}}</td><td class="mono">{{or .SigningKey "unsigned"}}</td><td class="mono">{{.Commit}}</td><td>{{.License}}</td><td>{{.Vendor}}</td><td class="mono" title="{{.SHA256}}">{{.ShortSHA}}</td><td>{{.Components}}</td></tr>
{{end}}</table>{{end}}
`

var pageTmpl = template.Must(template.New("page").Parse(page))

type htmlEntry struct{ EVR, Note string }

type htmlCell struct {
	Drift, Provenance string
	Entries           []htmlEntry
}

type htmlMatrixRow struct {
	Host, Channel string
	Cells         []htmlCell
}

type htmlHost struct {
	Name, AssetID, Address, Channel, OS, Owner, Function, Source, Collected string
	Packages                                                                int
}

type htmlPackage struct {
	NEVRA, BuildTime, SigningKey, Commit, License, Vendor, SHA256, ShortSHA, Components string
}

type htmlChannel struct {
	Name     string
	Packages []htmlPackage
}

type htmlComponent struct {
	Name, Version, License, EOL string
	Where                       []string
}

type htmlPage struct {
	Title, Generated, Tool string
	CSS                    template.CSS
	IsRepo, HaveEOL        bool
	Warnings               []string
	Apps                   []string
	Matrix                 []htmlMatrixRow
	HostRows               []htmlHost
	Hosts                  []inventory.HostReport
	Channels               []htmlChannel
	Components             []htmlComponent
}

// HTML writes the report as one static page: the drift matrix (hosts ×
// applications, coloured by state), the hosts, each channel's contents and
// the Python components with the hosts that run them.
func HTML(w io.Writer, rep *inventory.Report, meta Meta) error {
	pg := newPage(meta, rep.Warnings)
	pg.Hosts = rep.Hosts
	pg.Apps = applications(rep)
	comps := componentIndex{}
	for i := range rep.Hosts {
		h := &rep.Hosts[i]
		mr := htmlMatrixRow{Host: h.Info.Name, Channel: h.Channel}
		for _, app := range pg.Apps {
			var cell htmlCell
			for _, r := range h.Rows {
				if r.Name != app {
					continue
				}
				cell.Drift, cell.Provenance = string(r.Drift), string(r.Provenance)
				e := htmlEntry{EVR: "—", Note: cellNote(r)}
				if r.Installed != nil {
					e.EVR = r.Installed.EVR()
				}
				cell.Entries = append(cell.Entries, e)
				for _, c := range r.Components {
					comps.add(c, h.Info.Name+": "+r.Installed.NEVRA(), meta)
				}
			}
			mr.Cells = append(mr.Cells, cell)
		}
		pg.Matrix = append(pg.Matrix, mr)
		n := len(installedRows(h))
		pg.HostRows = append(pg.HostRows, htmlHost{
			Name: h.Info.Name, AssetID: h.AssetID(), Address: h.Info.Address, Channel: h.Channel, OS: h.OS(), Owner: h.Info.Owner,
			Function: h.Info.Function, Source: h.Data.Source, Collected: timeText(h.Data.CollectedAt), Packages: n,
		})
	}
	for _, c := range rep.Channels {
		pg.Channels = append(pg.Channels, htmlChannel{Name: c.Name, Packages: htmlPackages(c.Packages)})
	}
	pg.Components = comps.list()
	return render(w, pg)
}

// RepoHTML lists published packages and their Python components.
func RepoHTML(w io.Writer, pkgs []inventory.PublishedPackage, meta Meta) error {
	pg := newPage(meta, nil)
	pg.IsRepo = true
	// One table per channel, in the order the packages come (channel order).
	var order []string
	byChannel := map[string][]inventory.PublishedPackage{}
	for _, p := range pkgs {
		name := p.Channel
		if name == "" {
			name = "packages"
		}
		if _, ok := byChannel[name]; !ok {
			order = append(order, name)
		}
		byChannel[name] = append(byChannel[name], p)
	}
	for _, name := range order {
		pg.Channels = append(pg.Channels, htmlChannel{Name: name, Packages: htmlPackages(byChannel[name])})
	}
	comps := componentIndex{}
	for _, p := range pkgs {
		for _, c := range p.Components {
			comps.add(c, p.NEVRA(), meta)
		}
	}
	pg.Components = comps.list()
	return render(w, pg)
}

func newPage(meta Meta, warnings []string) *htmlPage {
	title := meta.Title
	if title == "" {
		title = "rpmforge software inventory"
	}
	return &htmlPage{Title: title, Generated: timeText(meta.Generated), Tool: meta.Tool, CSS: template.CSS(css),
		Warnings: warnings, HaveEOL: meta.EOL != nil}
}

func render(w io.Writer, pg *htmlPage) error {
	if err := pageTmpl.Execute(w, pg); err != nil {
		return fmt.Errorf("export: rendering HTML: %w", err)
	}
	return nil
}

func cellNote(r inventory.Row) string {
	var parts []string
	switch r.Drift {
	case inventory.Behind:
		parts = append(parts, fmt.Sprintf("behind %d → %s", r.Behind, r.Available))
	case inventory.Ahead:
		parts = append(parts, "ahead of "+r.Available)
	case inventory.Missing:
		parts = append(parts, "not installed ("+r.Available+")")
	case inventory.Current:
		parts = append(parts, "current")
	case inventory.NotInChannel:
		parts = append(parts, "not in channel")
	}
	switch r.Provenance {
	case inventory.DigestMismatch:
		parts = append(parts, "digest differs from the published package")
	case inventory.Unpublished:
		parts = append(parts, "never published by us")
	case inventory.Unverified:
		parts = append(parts, "digest not compared")
	}
	return strings.Join(parts, " · ")
}

func htmlPackages(pkgs []inventory.PublishedPackage) []htmlPackage {
	var out []htmlPackage
	for _, p := range pkgs {
		short := p.SHA256
		if len(short) > 12 {
			short = short[:12] + "…"
		}
		comps := componentList(p.Components)
		if comps == "" {
			comps = "—"
		}
		out = append(out, htmlPackage{
			NEVRA: p.NEVRA(), BuildTime: timeText(p.BuildTime), SigningKey: p.SigningKey, Commit: shortCommit(p.Commit()),
			License: p.License, Vendor: p.Vendor, SHA256: p.SHA256, ShortSHA: short, Components: comps,
		})
	}
	return out
}

// componentIndex groups components by name and version.
type componentIndex map[string]*htmlComponent

func (ci componentIndex) add(c inventory.Component, where string, meta Meta) {
	k := strings.ToLower(c.Name) + "\x00" + c.Version
	e, ok := ci[k]
	if !ok {
		lic := c.License
		if lic == "" {
			lic = "unknown"
		}
		e = &htmlComponent{Name: c.Name, Version: c.Version, License: lic, EOL: meta.EOL.Lookup(c.Name, c.Version)}
		ci[k] = e
	}
	for _, w := range e.Where {
		if w == where {
			return
		}
	}
	e.Where = append(e.Where, where)
}

func (ci componentIndex) list() []htmlComponent {
	out := make([]htmlComponent, 0, len(ci))
	for _, e := range ci {
		sort.Strings(e.Where)
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Name), strings.ToLower(out[j].Name)
		if a != b {
			return a < b
		}
		return out[i].Version < out[j].Version
	})
	return out
}
