package build

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rpmforge/rpmforge/pkg/config"
	"github.com/rpmforge/rpmforge/pkg/django"
	"github.com/rpmforge/rpmforge/pkg/elfdeps"
	"github.com/rpmforge/rpmforge/pkg/payload"
	"github.com/rpmforge/rpmforge/pkg/pydist"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/sbom"
	"github.com/rpmforge/rpmforge/pkg/scan"
	"github.com/rpmforge/rpmforge/pkg/service"
	"github.com/rpmforge/rpmforge/pkg/venv"
)

type assembled struct {
	source  rpm.Source
	open    func(*rpm.Entry) (io.ReadCloser, error) // opens the entries of trees (rpm.Options.Open)
	builder *payload.Builder                        // to Close once written
	guard   *payload.Guard
	sboms   map[sbom.Format][]byte // also written beside the RPM
}

// payload gathers every file of the package and completes b.md with what
// the content implies (arch, requires, bundled provides, scriptlets).
func (b *builder) payload(ctx context.Context) (*assembled, error) {
	cfg := b.cfg
	prefix := cfg.Install.Prefix
	v := b.venv
	guardPaths := []string{b.projectDir, v.Dir, b.tmp}
	for _, p := range []string{b.projectDir, v.Dir} {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			guardPaths = append(guardPaths, real)
		}
	}
	guard := payload.NewGuard(guardPaths...)
	pl := payload.New(b.opt.SourceDateEpoch, b.md.BuildTime)
	pl.Guard = guard
	pl.TempDir = b.tmp
	ok := false
	defer func() {
		if !ok {
			pl.Close()
		}
	}()
	user := payload.Owner{User: cfg.Install.User, Group: cfg.Install.Group}

	// Source tree, without the venv, the output dir and what the user excludes.
	var src []scan.File
	err := b.step("scan", func() error {
		excl := append([]string{}, cfg.Project.Exclude...)
		for _, inside := range []string{v.Dir, b.outputDir(), filepath.Join(b.projectDir, "dist")} {
			if rel, err := filepath.Rel(b.projectDir, inside); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
				excl = append(excl, filepath.ToSlash(rel))
			}
		}
		var err error
		src, err = scan.Walk(b.projectDir, scan.Options{Exclude: excl})
		if err != nil {
			return fmt.Errorf("build: project.dir: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := pl.AddDir(prefix, payload.Root, 0o755); err != nil {
		return nil, err
	}
	if err := pl.AddTree(prefix+"/src", src, payload.TreeOptions{Owner: payload.Root, BuildRoot: b.projectDir}); err != nil {
		return nil, err
	}

	// The venv, relocated. Its files go straight from the walk into the
	// payload's spool file: no list of them is kept, only the few the
	// later steps look at (ELF candidates; the .py files to compile).
	var elfFiles, pyFiles []scan.File
	var reloc map[string][]byte
	var relocation *venv.Relocation // its digests serve the SBOM step
	venvDest := prefix + "/venv"
	compile := *cfg.Django.Compile
	err = b.step("relocate", func() error {
		// Relocate reads every file; the walk only stats them. They are
		// independent, so they run at once (the walk is single-threaded).
		var r *venv.Relocation
		var rerr error
		relocated := make(chan struct{})
		go func() {
			defer close(relocated)
			r, rerr = v.Relocate(venvDest)
		}()
		home := v.Cfg["home"]
		var scanErr error
		err := pl.AddTreeFunc(venvDest, func(yield func(scan.File) error) error {
			scanErr = scan.WalkFunc(v.Dir, scan.Options{AllowAbsLink: func(rel, target string) bool {
				// bin/python* -> the base interpreter the venv was made with
				return strings.HasPrefix(rel, "bin/python") && (target == v.Python || filepath.Dir(target) == filepath.Clean(home)) &&
					strings.HasPrefix(filepath.Base(target), "python")
			}}, func(f scan.File) error {
				if elfCandidate(f) {
					elfFiles = append(elfFiles, f)
				}
				if compile && f.Mode.IsRegular() && strings.HasSuffix(f.Rel, ".py") {
					pyFiles = append(pyFiles, f)
				}
				if err := yield(f); err != nil {
					return payloadError{err}
				}
				return nil
			})
			return scanErr
		}, payload.TreeOptions{Owner: payload.Root, BuildRoot: v.Dir})
		<-relocated
		if rerr != nil {
			return fmt.Errorf("build: %w", rerr)
		}
		reloc, relocation = r.Overrides, r
		if pe, ok := err.(payloadError); ok {
			return pe.error
		}
		if err != nil && err == scanErr {
			return fmt.Errorf("build: venv.path: %w", err)
		}
		if err != nil {
			return err
		}
		return pl.SetOverride(venvDest, reloc)
	})
	if err != nil {
		return nil, err
	}

	// Django build steps, with the venv's own interpreter.
	python := filepath.Join(v.Dir, "bin", "python")
	env := django.Env(cfg.Django.BuildEnv)
	if *cfg.Django.Collectstatic {
		staticDir := filepath.Join(b.tmp, "static")
		err := b.step("collectstatic", func() error {
			if err := django.Collectstatic(ctx, python, b.projectDir, cfg.Django.Manage, cfg.Django.Settings, staticDir, env); err != nil {
				return fmt.Errorf("build: %w", err)
			}
			files, err := scan.Walk(staticDir, scan.Options{})
			if err != nil {
				return fmt.Errorf("build: collected static files: %w", err)
			}
			return pl.AddTree(prefix+"/static", files, payload.TreeOptions{Owner: payload.Root})
		})
		if err != nil {
			return nil, err
		}
	}
	if *cfg.Django.Compile {
		err := b.step("bytecode", func() error { return b.compile(ctx, pl, src, pyFiles, reloc) })
		if err != nil {
			return nil, err
		}
	}
	if err := pl.OwnParents(prefix, payload.Root); err != nil {
		return nil, err
	}

	// Host integration: unit, env file, manage wrapper, state dirs, scriptlets.
	if err := b.hostFiles(pl, user); err != nil {
		return nil, err
	}
	for i, f := range cfg.Files {
		mode, _ := config.ParseMode(f.Mode)
		var flags rpm.FileFlag
		if f.Config {
			flags |= rpm.FileConfig
			if *f.NoReplace {
				flags |= rpm.FileNoReplace
			}
		}
		if err := pl.AddFile(f.Dest, cfg.Abs(f.Source), payload.Owner{User: f.Owner, Group: f.Group}, fs.FileMode(mode), flags); err != nil {
			return nil, fmt.Errorf("build: %s: files[%d].source: %w", cfg.Path, i, err)
		}
	}

	// What the content implies.
	if err := b.step("deps", func() error { return b.deps(elfFiles, reloc) }); err != nil {
		return nil, err
	}
	var sboms map[sbom.Format][]byte
	err = b.step("sbom", func() (err error) { sboms, err = b.addSBOM(pl, reloc, relocation.Sum); return err })
	relocation = nil
	if err != nil {
		return nil, err
	}
	source, err := pl.Source()
	if err != nil {
		return nil, err
	}
	ok = true
	return &assembled{source: source, open: pl.Open, builder: pl, guard: guard, sboms: sboms}, nil
}

// payloadError marks an error of the payload builder met during the
// venv's walk (it is not the walk's).
type payloadError struct{ error }

// elfCandidate reports whether deps inspects f: a regular file named
// *.so* or executable.
func elfCandidate(f scan.File) bool {
	return f.Mode.IsRegular() && (strings.Contains(path.Base(f.Rel), ".so") || f.Mode&0o111 != 0)
}

func (b *builder) outputDir() string {
	if b.opt.OutputDir != "" {
		abs, _ := filepath.Abs(b.opt.OutputDir)
		return abs
	}
	return b.cfg.Abs("dist")
}

// compile byte-compiles the source tree and the venv's lib for their install
// paths and adds the .pyc files beside their sources' __pycache__.
func (b *builder) compile(ctx context.Context, pl *payload.Builder, src, vfiles []scan.File, reloc map[string][]byte) error {
	prefix := b.cfg.Install.Prefix
	cache := filepath.Join(b.tmp, "pyc")
	python := filepath.Join(b.venv.Dir, "bin", "python")
	if err := django.Compile(ctx, python, b.projectDir, prefix+"/src", cache, b.projectDir); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := django.Compile(ctx, python, b.venv.Dir, prefix+"/venv", cache, filepath.Join(b.venv.Dir, "lib")); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	add := func(buildRoot, dest string, files []scan.File, skip map[string][]byte) error {
		for _, f := range files {
			if !f.Mode.IsRegular() || !strings.HasSuffix(f.Rel, ".py") {
				continue
			}
			if _, rewritten := skip[f.Rel]; rewritten {
				continue // its pyc would hold the unrelocated text; Python compiles it at import
			}
			pyc := django.PycPath(cache, f.Abs, b.venv.PyVersion)
			if _, err := os.Stat(pyc); err != nil {
				continue // did not compile (deliberately broken test files), as with rpmbuild
			}
			dir, base := path.Split(f.Rel)
			dst := path.Join(dest, dir, "__pycache__", filepath.Base(pyc))
			_ = base
			if err := pl.AddFile(dst, pyc, payload.Root, 0o644, 0); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(b.projectDir, prefix+"/src", src, nil); err != nil {
		return err
	}
	return add(b.venv.Dir, prefix+"/venv", vfiles, reloc)
}

func (b *builder) hostFiles(pl *payload.Builder, user payload.Owner) error {
	cfg := b.cfg
	name := cfg.Package.Name
	scripts := service.Scripts{}
	for _, s := range []struct {
		key, file string
		dst       *string
	}{{"scriptlets.pre", cfg.Scriptlets.Pre, &scripts.Pre}, {"scriptlets.post", cfg.Scriptlets.Post, &scripts.Post},
		{"scriptlets.preun", cfg.Scriptlets.PreUn, &scripts.PreUn}, {"scriptlets.postun", cfg.Scriptlets.PostUn, &scripts.PostUn}} {
		if s.file == "" {
			continue
		}
		data, err := os.ReadFile(cfg.Abs(s.file))
		if err != nil {
			return fmt.Errorf("build: %s: %s: %w", cfg.Path, s.key, err)
		}
		*s.dst = string(data)
	}
	files, err := service.Render(service.Params{
		Name: name, Summary: b.md.Summary, User: cfg.Install.User, Group: cfg.Install.Group, Home: cfg.Install.Home,
		Prefix: cfg.Install.Prefix, Manage: cfg.Django.Manage, Settings: cfg.Django.Settings, WSGI: cfg.Django.WSGI,
		Bind: cfg.Service.Bind, Workers: cfg.Service.Workers, Enable: *cfg.Service.Enable, Migrate: cfg.Django.Migrate,
		Env: cfg.Service.Env, UserScripts: scripts,
	})
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	group := payload.Owner{User: "root", Group: cfg.Install.Group}
	if cfg.Service.Unit != "" {
		if err := pl.AddFile(service.UnitPath(name), cfg.Abs(cfg.Service.Unit), payload.Root, 0o644, 0); err != nil {
			return fmt.Errorf("build: %s: service.unit: %w", cfg.Path, err)
		}
	} else {
		if _, err := os.Stat(filepath.Join(b.venv.Dir, "bin", "gunicorn")); err != nil {
			return fmt.Errorf("build: %s: the generated unit runs gunicorn, but %s has no bin/gunicorn (install gunicorn in the venv, or set service.unit)", cfg.Path, b.venv.Dir)
		}
		if err := pl.AddBytes(service.UnitPath(name), files.Unit, payload.Root, 0o644, 0); err != nil {
			return err
		}
	}
	steps := []error{
		pl.AddDir(service.EnvDir(name), group, 0o750),
		pl.AddBytes(service.EnvPath(name), files.Env, group, 0o640, rpm.FileConfig|rpm.FileNoReplace),
		pl.AddBytes(service.ManagePath(name), files.Manage, payload.Root, 0o755, 0),
		pl.AddDir(cfg.Install.Home, user, 0o750),
	}
	if logDir := "/var/log/" + name; logDir != cfg.Install.Home {
		steps = append(steps, pl.AddDir(logDir, user, 0o750))
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	b.md.Scripts = rpm.Scripts{Pre: files.Scripts.Pre, Post: files.Scripts.Post, PreUn: files.Scripts.PreUn, PostUn: files.Scripts.PostUn}
	return nil
}

// deps derives the arch, the requires and the bundled provides from the
// payload: the base interpreter, the tools %pre uses, one requirement per
// ELF library the venv's extensions need that the payload lacks, and one
// bundled(python3dist(x)) per distribution in the venv.
func (b *builder) deps(vfiles []scan.File, reloc map[string][]byte) error {
	md := &b.md
	req := []rpm.Relation{{Name: b.venv.Python}}
	for _, tool := range []string{"/usr/sbin/useradd", "/usr/sbin/groupadd", "/usr/bin/getent"} {
		req = append(req, rpm.Relation{Name: tool, Flags: rpm.SenseScriptPre})
	}
	provided := map[string]bool{}
	needed := map[string]bool{}
	arch := ""
	for _, f := range vfiles {
		if !elfCandidate(f) {
			continue
		}
		if _, ok := reloc[f.Rel]; ok {
			continue
		}
		fh, err := os.Open(f.Abs)
		if err != nil {
			return fmt.Errorf("build: %w", err)
		}
		info, isELF, err := elfdeps.Inspect(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("build: %s: %w", f.Abs, err)
		}
		if !isELF {
			continue
		}
		a, err := elfdeps.Arch(info.Machine)
		if err != nil {
			return fmt.Errorf("build: %s: %w", f.Abs, err)
		}
		if arch != "" && a != arch {
			return fmt.Errorf("build: the venv mixes ELF files for %s and %s (%s); build on the target architecture", arch, a, f.Abs)
		}
		arch = a
		provided[path.Base(f.Rel)] = true
		if info.Soname != "" {
			provided[info.Soname] = true
		}
		for _, n := range info.Needed {
			needed[elfdeps.RequireName(n, info.Class)+"\x00"+n] = true
		}
	}
	var libs []string
	for k := range needed {
		parts := strings.SplitN(k, "\x00", 2)
		if !provided[parts[1]] {
			libs = append(libs, parts[0])
		}
	}
	sort.Strings(libs)
	for _, l := range libs {
		req = append(req, rpm.Relation{Name: l})
	}
	md.Requires = append(req, md.Requires...)
	if md.Arch = b.cfg.Build.Arch; md.Arch == "" {
		md.Arch = arch
		if md.Arch == "" {
			md.Arch = "noarch"
		}
	}
	dists, err := pydist.Scan(filepath.Join(b.venv.Dir, "lib", "python"+b.venv.PyVersion, "site-packages"))
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	for _, d := range dists {
		md.Provides = append(md.Provides, rpm.Relation{Name: "bundled(python3dist(" + pydist.Normalize(d.Name) + "))", Flags: rpm.SenseEqual, Version: d.Version})
	}
	return nil
}
