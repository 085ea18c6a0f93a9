// Package build turns a Django project and its virtualenv into an RPM:
// config -> project/venv scan -> relocation -> Django steps -> payload ->
// rpm writer. It is the one place that knows the order of those steps.
package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/config"
	"github.com/rpmforge/rpmforge/pkg/gitinfo"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/venv"
)

// Options are the per-run inputs that do not belong in the config file.
type Options struct {
	OutputDir string // default "dist" next to the config
	Release   string // overrides package.release ($BUILD_NUMBER is read by the CLI)
	// SourceDateEpoch, when non-zero, makes the build reproducible: it is the
	// build time and the latest mtime in the payload.
	SourceDateEpoch time.Time
	Signer          rpm.Signer
	Progress        Progress
	TempDir         string
	// ToolVersion is rpmforge's version, recorded in the SBOM.
	ToolVersion string
}

// Progress receives step names and byte counts; nil is silent.
type Progress interface {
	Step(name string)
	Bytes(done, total int64)
}

type nopProgress struct{}

func (nopProgress) Step(string)        {}
func (nopProgress) Bytes(int64, int64) {}

// Result describes the package written.
type Result struct {
	Path     string         `json:"path"`
	Name     string         `json:"name"`
	Epoch    *uint32        `json:"epoch,omitempty"`
	Version  string         `json:"version"`
	Release  string         `json:"release"`
	Arch     string         `json:"arch"`
	NEVRA    string         `json:"nevra"`
	Size     int64          `json:"size"`
	SHA256   string         `json:"sha256"`
	Files    int            `json:"files"`
	Requires []string       `json:"requires"`
	Provides []string       `json:"provides"`
	Steps    map[string]int `json:"step_ms"`
	// StepsCPU is the CPU time (user + system, all goroutines) the process
	// spent during each step, in ms, without its child processes (Python
	// for collectstatic and bytecode); empty where the OS does not say.
	StepsCPU map[string]int `json:"step_cpu_ms,omitempty"`
	Signed   bool           `json:"signed"`
	SBOM     []string       `json:"sbom"` // the SBOMs written beside the RPM
}

// Run builds the package described by cfg (defaults applied and validated).
func Run(ctx context.Context, cfg *config.Config, opt Options) (*Result, error) {
	if opt.Progress == nil {
		opt.Progress = nopProgress{}
	}
	b := &builder{cfg: cfg, opt: opt, steps: map[string]int{}, stepsCPU: map[string]int{}}
	return b.run(ctx)
}

type builder struct {
	cfg   *config.Config
	opt   Options
	steps map[string]int
	tmp   string

	stepsCPU map[string]int

	projectDir string
	venv       *venv.Venv
	md         rpm.Metadata
}

func (b *builder) step(name string, f func() error) error {
	b.opt.Progress.Step(name)
	start, cpu := time.Now(), cpuTime()
	err := f()
	b.steps[name] += int(time.Since(start).Milliseconds())
	if cpu >= 0 {
		b.stepsCPU[name] += int((cpuTime() - cpu).Milliseconds())
	}
	return err
}

func (b *builder) run(ctx context.Context) (*Result, error) {
	cfg := b.cfg
	var err error
	b.projectDir, err = filepath.Abs(cfg.Abs(cfg.Project.Dir))
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if _, err := os.Stat(filepath.Join(b.projectDir, cfg.Django.Manage)); err != nil {
		return nil, fmt.Errorf("build: %s: django.manage = %q not found in %s: %w", cfg.Path, cfg.Django.Manage, b.projectDir, err)
	}
	if err := b.step("venv", b.openVenv); err != nil {
		return nil, err
	}
	if err := b.step("metadata", b.metadata); err != nil {
		return nil, err
	}
	b.tmp, err = os.MkdirTemp(b.opt.TempDir, "rpmforge-build-")
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(b.tmp)

	pl, err := b.payload(ctx)
	if err != nil {
		return nil, err
	}
	return b.write(ctx, pl)
}

func (b *builder) openVenv() error {
	dir, err := filepath.Abs(b.cfg.Abs(b.cfg.Venv.Path))
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	v, err := venv.Open(dir)
	if err != nil {
		return fmt.Errorf("build: %s: venv.path: %w", b.cfg.Path, err)
	}
	if want := b.cfg.Venv.Python; want != "" && want != v.Python {
		return fmt.Errorf("build: %s: venv.python: the venv %s was made with %s, not %s (recreate it with %s -m venv, or change venv.python)",
			b.cfg.Path, dir, v.Python, want, want)
	}
	b.venv = v
	return nil
}

// metadata fills everything the RPM header says about the package.
func (b *builder) metadata() error {
	cfg := b.cfg
	p := cfg.Package
	md := rpm.Metadata{
		Name: p.Name, Epoch: p.Epoch, Version: p.Version, Release: p.Release,
		Summary: p.Summary, Description: p.Description, License: p.License, URL: p.URL,
		Vendor: p.Vendor, Packager: p.Packager, Group: p.Group, OS: "linux",
		Compression: cfg.Build.Compression, BuildHost: p.BuildHost,
	}
	if md.Group == "" {
		md.Group = "Unspecified"
	}
	if b.opt.Release != "" {
		md.Release = b.opt.Release
	}
	if md.BuildHost == "" {
		md.BuildHost, _ = os.Hostname()
	}
	info, gitErr := gitinfo.Read(b.projectDir)
	if p.Version == "git" {
		if gitErr != nil {
			return fmt.Errorf("build: %s: package.version is \"git\" but: %w (set a version such as \"1.0.0\")", cfg.Path, gitErr)
		}
		n, err := gitinfo.CommitCount(b.projectDir)
		if err != nil {
			return err
		}
		if md.Version, err = info.Version(n); err != nil {
			return fmt.Errorf("build: %s: package.version: %w", cfg.Path, err)
		}
	}
	if gitErr == nil {
		md.VCS = info.VCS()
		if n := *p.Changelog; n > 0 {
			changes, err := gitinfo.Changelog(b.projectDir, n)
			if err != nil {
				return err
			}
			for i, c := range changes {
				author := c.Author
				if i == 0 {
					author += " - " + evr(md.Epoch, md.Version, md.Release)
				}
				md.Changelog = append(md.Changelog, rpm.Change{Time: c.Time, Author: author, Text: c.Text})
			}
		}
	}
	if !b.opt.SourceDateEpoch.IsZero() {
		md.BuildTime = b.opt.SourceDateEpoch
	} else {
		md.BuildTime = time.Now()
	}
	md.SourceRPM = fmt.Sprintf("%s-%s-%s.src.rpm", md.Name, md.Version, md.Release)
	for _, l := range []struct {
		key  string
		in   []string
		dest *[]rpm.Relation
	}{{"package.requires", p.Requires, &md.Requires}, {"package.provides", p.Provides, &md.Provides},
		{"package.conflicts", p.Conflicts, &md.Conflicts}, {"package.obsoletes", p.Obsoletes, &md.Obsoletes}} {
		for _, s := range l.in {
			r, err := rpm.ParseRelation(s)
			if err != nil {
				return fmt.Errorf("build: %s: %s: %w", cfg.Path, l.key, err)
			}
			*l.dest = append(*l.dest, r)
		}
	}
	b.md = md
	return nil
}

func evr(epoch *uint32, v, r string) string {
	if epoch != nil {
		return fmt.Sprintf("%d:%s-%s", *epoch, v, r)
	}
	return v + "-" + r
}

// write streams the payload into a temp file beside the output, checks the
// guard, and renames it into place: no partial RPM is ever left behind.
func (b *builder) write(ctx context.Context, pl *assembled) (*Result, error) {
	out := b.opt.OutputDir
	if out == "" {
		out = b.cfg.Abs("dist")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("build: output directory: %w", err)
	}
	if err := b.md.Validate(); err != nil {
		return nil, fmt.Errorf("build: %s: %w", b.cfg.Path, err)
	}
	name := fmt.Sprintf("%s-%s-%s.%s.rpm", b.md.Name, b.md.Version, b.md.Release, b.md.Arch)
	final := filepath.Join(out, name)
	f, err := os.CreateTemp(out, "."+name+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var res *rpm.Result
	defer pl.builder.Close()
	err = b.step("rpm", func() error {
		var err error
		res, err = rpm.WriteSource(ctx, f, b.md, pl.source, rpm.Options{
			TempDir: b.tmp, Signer: b.opt.Signer, Progress: b.opt.Progress.Bytes, Open: pl.open, Sync: true,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("build: writing %s: %w", name, err)
	}
	if err := pl.guard.Err(); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := f.Close(); err != nil { // fsynced by rpm.WriteSource (Options.Sync)
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	sboms, err := writeSBOMs(out, strings.TrimSuffix(name, ".rpm"), pl.sboms)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	ok = true
	r := &Result{
		Path: final, Name: b.md.Name, Epoch: b.md.Epoch, Version: b.md.Version, Release: b.md.Release, Arch: b.md.Arch,
		Size: res.Size, SHA256: res.SHA256, Files: res.Files, Steps: b.steps, StepsCPU: b.stepsCPU, Signed: b.opt.Signer != nil, SBOM: sboms,
	}
	r.NEVRA = fmt.Sprintf("%s-%s.%s", r.Name, evr(r.Epoch, r.Version, r.Release), r.Arch)
	seen := map[string]bool{}
	for _, q := range res.Requires {
		if s := q.String(); !seen[s] { // /bin/sh once, not once per scriptlet
			seen[s] = true
			r.Requires = append(r.Requires, s)
		}
	}
	for _, q := range b.md.Provides {
		r.Provides = append(r.Provides, q.String())
	}
	return r, nil
}
