// Package checkinstall checks that a package of a release channel installs,
// upgrades, runs, downgrades and erases cleanly on a host configured as
// production hosts are: a scratch dnf installroot (pkg/hostroot) with the
// channel's .repo file (client-config: gpgcheck=1, repo_gpgcheck=1, the
// channel's key), driven by the real rpm and dnf.
//
// The steps, each a Case of the Report (and a JUnit test case):
//
//	setup          make the root (base package from the host's files)
//	install        install the version in the --from channel (else the candidate)
//	upgrade        upgrade to the candidate, the newest NAME in the channel
//	verify         rpm -V, every scriptlet exited 0, the systemd unit and its User= exist
//	smoke          the smoke command, chrooted into the root
//	downgrade      back to the --from version
//	upgrade-again  to the candidate again
//	erase          dnf remove; nothing of the package is left installed
//
// rpm and dnf exit 0 when %post, %preun or %postun fail: the root's /bin/sh
// logs every scriptlet, and a step fails when one of its scriptlets did.
package checkinstall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/hostroot"
	"github.com/rpmforge/rpmforge/pkg/rpmver"
)

// Step names, in order.
const (
	StepSetup        = "setup"
	StepInstall      = "install"
	StepUpgrade      = "upgrade"
	StepVerify       = "verify"
	StepSmoke        = "smoke"
	StepDowngrade    = "downgrade"
	StepUpgradeAgain = "upgrade-again"
	StepErase        = "erase"
)

// Options configure Run.
type Options struct {
	RootDir     string // the repository root (pool and channels)
	Channel     string // the candidate's channel
	FromChannel string // the channel hosts run now ("" or a channel without NAME: fresh install)
	Name        string // the package name

	// Smoke is a shell command run chrooted into the root after the
	// upgrade ("" skips the step).
	Smoke string
	// Python puts the host's python3.11 and standard library into the root
	// (for %post scriptlets running the venv, such as manage.py migrate).
	Python bool
	// BaseProvides are capabilities the root provides besides
	// hostroot.DefaultProvides (such as "libfoo.so.1()(64bit)").
	BaseProvides []string
	// CacheDir keeps the base package; default hostroot.CacheDir().
	CacheDir string
	// WorkDir holds the scratch root; default a new temporary directory,
	// removed when Run returns unless Keep.
	WorkDir string
	Keep    bool
	// Out gets one line per step (and the output of failed steps).
	Out io.Writer
}

// Case is the outcome of one step.
type Case struct {
	Name     string
	Duration time.Duration
	Failure  string // why it failed; "" when it passed or was skipped
	Skipped  string // why it was skipped
	Output   string // what the commands printed
}

// Report is the outcome of Run.
type Report struct {
	Name, Channel, FromChannel string
	Candidate                  string // NEVRA checked
	From                       string // NEVRA installed first; "" when none
	Start                      time.Time
	Duration                   time.Duration
	Cases                      []Case
	WorkDir                    string // kept with Options.Keep
}

// Failed returns the cases that failed.
func (r *Report) Failed() []Case {
	var out []Case
	for _, c := range r.Cases {
		if c.Failure != "" {
			out = append(out, c)
		}
	}
	return out
}

// Run checks the newest NAME of the channel. It returns an error only when
// the check could not start (missing tools, unknown channel, no such
// package); failed steps are in the Report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := hostroot.CheckHost(); err != nil {
		return nil, err
	}
	if o.Python {
		if _, err := os.Stat(hostroot.PythonPath); err != nil {
			return nil, fmt.Errorf("check-install: the root's python needs the host's %s (Debian 12: apt-get install python3.11; EL 9: dnf install python3.11), or turn it off (--with-python=false)", hostroot.PythonPath)
		}
	}
	dir, err := filepath.Abs(o.RootDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "pool")); err != nil {
		return nil, fmt.Errorf("check-install: %s is not a repository root (no pool/; see docs/channels.md)", o.RootDir)
	}
	croot, err := channel.Open(dir, channel.Options{})
	if err != nil {
		return nil, err
	}
	cand, err := newest(ctx, croot, o.Channel, o.Name)
	if err != nil {
		return nil, err
	}
	if cand == nil {
		return nil, fmt.Errorf("check-install: channel %s has no package %s", o.Channel, o.Name)
	}
	var from *channel.Package
	if o.FromChannel != "" {
		if from, err = newest(ctx, croot, o.FromChannel, o.Name); err != nil {
			return nil, err
		}
	}
	rep := &Report{Name: o.Name, Channel: o.Channel, FromChannel: o.FromChannel, Candidate: cand.NEVRA(), Start: time.Now()}
	if from != nil {
		rep.From = from.NEVRA()
	}
	c := &checker{o: o, rep: rep, croot: croot, dir: dir, cand: cand, from: from}
	c.run(ctx)
	rep.Duration = time.Since(rep.Start)
	return rep, nil
}

// newest returns the newest package called name in channel ch (nil if none).
func newest(ctx context.Context, r *channel.Root, ch, name string) (*channel.Package, error) {
	objs, _, err := r.Packages(ctx, ch, 0)
	if err != nil {
		return nil, err
	}
	var best *channel.Package
	for i := range objs {
		p := &objs[i].Package
		if p.Name == name && (best == nil || compareEVR(p, best) > 0) {
			best = p
		}
	}
	return best, nil
}

func compareEVR(a, b *channel.Package) int {
	ea, eb := a.Epoch, b.Epoch
	if ea == "" {
		ea = "0"
	}
	if eb == "" {
		eb = "0"
	}
	if c := rpmver.Vercmp(ea, eb); c != 0 {
		return c
	}
	if c := rpmver.Vercmp(a.Version, b.Version); c != 0 {
		return c
	}
	return rpmver.Vercmp(a.Release, b.Release)
}

type checker struct {
	o          Options
	rep        *Report
	croot      *channel.Root
	dir        string
	cand, from *channel.Package

	root     *hostroot.Root
	reposdir string
	candRepo string // repo ids of the channels
	fromRepo string
	seen     int  // scriptlets already checked
	broken   bool // a transaction failed: only erase is tried
}

func (c *checker) step(name string, f func() (output string, err error)) {
	start := time.Now()
	out, err := f()
	cs := Case{Name: name, Duration: time.Since(start), Output: out}
	var skip skipError
	switch {
	case errors.As(err, &skip):
		cs.Skipped = string(skip)
		fmt.Fprintf(c.o.Out, "SKIP  %-13s %s\n", name, cs.Skipped)
	case err != nil:
		cs.Failure = err.Error()
		fmt.Fprintf(c.o.Out, "FAIL  %-13s %s (%.1fs)\n", name, cs.Failure, cs.Duration.Seconds())
		if s := strings.TrimSpace(out); s != "" {
			fmt.Fprintf(c.o.Out, "%s\n", indent(tail(s, 40)))
		}
	default:
		fmt.Fprintf(c.o.Out, "ok    %-13s %s (%.1fs)\n", name, firstLine(out), cs.Duration.Seconds())
	}
	c.rep.Cases = append(c.rep.Cases, cs)
}

type skipError string

func (s skipError) Error() string { return string(s) }

func (c *checker) run(ctx context.Context) {
	o := c.o
	work := o.WorkDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "rpmforge-check-install-"); err != nil {
			c.step(StepSetup, func() (string, error) { return "", err })
			return
		}
	}
	if o.Keep {
		c.rep.WorkDir = work
	} else {
		defer os.RemoveAll(work)
	}
	fmt.Fprintf(o.Out, "check-install: %s from %s", c.cand.NEVRA(), o.Channel)
	if c.from != nil {
		fmt.Fprintf(o.Out, ", upgrading %s from %s", c.from.NEVRA(), o.FromChannel)
	}
	fmt.Fprintln(o.Out)

	c.step(StepSetup, func() (string, error) { return c.setup(ctx, work) })
	if c.root == nil {
		for _, n := range []string{StepInstall, StepUpgrade, StepVerify, StepSmoke, StepDowngrade, StepUpgradeAgain, StepErase} {
			c.step(n, func() (string, error) { return "", skipError("setup failed") })
		}
		return
	}
	defer c.root.KillGPGAgents()

	same := c.from == nil || compareEVR(c.from, c.cand) == 0
	noFrom := "no " + o.Name + " in " + o.FromChannel
	if o.FromChannel == "" {
		noFrom = "no --from-channel"
	} else if c.from != nil {
		noFrom = o.FromChannel + " already has " + c.from.NEVRA()
	}

	c.step(StepInstall, func() (string, error) {
		if same {
			return c.transaction(ctx, c.cand.NEVRA(), []string{c.candRepo}, "install", c.cand.NEVRA())
		}
		return c.transaction(ctx, c.from.NEVRA(), []string{c.fromRepo}, "install", c.from.NEVRA())
	})
	c.step(StepUpgrade, func() (string, error) {
		if same {
			return "", skipError(noFrom)
		}
		return c.transaction(ctx, c.cand.NEVRA(), []string{c.candRepo}, "upgrade", c.cand.NEVRA())
	})
	c.step(StepVerify, func() (string, error) { return c.verify(ctx) })
	c.step(StepSmoke, func() (string, error) {
		if o.Smoke == "" {
			return "", skipError("no smoke command")
		}
		if c.broken {
			return "", skipError("an earlier transaction failed")
		}
		out, err := c.root.Chroot(ctx, o.Smoke)
		if err != nil {
			return out, fmt.Errorf("smoke command %q failed: %w", o.Smoke, unwrapExit(err))
		}
		return out, nil
	})
	c.step(StepDowngrade, func() (string, error) {
		if same {
			return "", skipError(noFrom)
		}
		return c.transaction(ctx, c.from.NEVRA(), []string{c.candRepo, c.fromRepo}, "downgrade", c.from.NEVRA())
	})
	c.step(StepUpgradeAgain, func() (string, error) {
		if same {
			return "", skipError(noFrom)
		}
		return c.transaction(ctx, c.cand.NEVRA(), []string{c.candRepo}, "upgrade", c.cand.NEVRA())
	})
	c.step(StepErase, func() (string, error) { return c.erase(ctx) })
}

// setup makes the root and configures it as a host: the .repo files of the
// channels (file:// URLs of the root), their keys imported.
func (c *checker) setup(ctx context.Context, work string) (string, error) {
	provides := append(append([]string(nil), hostroot.DefaultProvides...), c.o.BaseProvides...)
	var log strings.Builder
	root, err := hostroot.New(ctx, filepath.Join(work, "host"), hostroot.Options{
		Provides: provides, Python: c.o.Python, CacheDir: c.o.CacheDir,
		Log: func(msg string) { fmt.Fprintln(&log, msg) },
	})
	if err != nil {
		return log.String(), err
	}
	c.reposdir = filepath.Join(root.Tmp, "yum.repos.d")
	if err := os.MkdirAll(c.reposdir, 0o755); err != nil {
		return log.String(), err
	}
	chans := []string{c.o.Channel}
	if c.from != nil && c.o.FromChannel != c.o.Channel {
		chans = append(chans, c.o.FromChannel)
	}
	for _, ch := range chans {
		cc, err := c.croot.ClientConfig(ctx, ch, channel.ClientOptions{BaseURL: "file://" + c.dir, MetadataExpire: "0"})
		if err != nil {
			return log.String(), err
		}
		for _, w := range cc.Warnings {
			fmt.Fprintf(&log, "warning: %s\n", w)
		}
		if err := os.WriteFile(filepath.Join(c.reposdir, cc.FileName), []byte(cc.Text), 0o644); err != nil {
			return log.String(), err
		}
		fmt.Fprintf(&log, "%s:\n%s", cc.FileName, cc.Text)
		id := strings.TrimSuffix(cc.FileName, ".repo")
		if ch == c.o.Channel {
			c.candRepo = id
		}
		if ch == c.o.FromChannel {
			c.fromRepo = id
		}
		// As the .repo file says: import the key first.
		key := filepath.Join(c.dir, ch, c.croot.Config.KeyName())
		if out, err := root.RPM(ctx, "--import", key); err != nil {
			return log.String() + out, fmt.Errorf("importing the key of channel %s: %w", ch, err)
		}
	}
	c.root = root
	return fmt.Sprintf("root %s, repos %s\n", root.Dir, strings.Join(slices.DeleteFunc(slices.Compact([]string{c.candRepo, c.fromRepo}), func(s string) bool { return s == "" }), " ")) + log.String(), nil
}

// transaction runs dnf CMD SPEC with repos enabled, then checks that every
// scriptlet it ran exited 0 and that want is what is installed.
func (c *checker) transaction(ctx context.Context, want string, repos []string, cmd, spec string) (string, error) {
	if c.broken {
		return "", skipError("an earlier transaction failed")
	}
	args := []string{}
	for _, r := range repos {
		args = append(args, "--repo="+r)
	}
	out, err := c.root.Dnf(ctx, c.reposdir, append(args, cmd, spec)...)
	if err != nil {
		c.broken = true
		return out, fmt.Errorf("dnf %s %s failed: %w", cmd, spec, unwrapExit(err))
	}
	if err := c.newScriptlets(); err != nil {
		c.broken = true
		return out, err
	}
	got, err := c.installed(ctx)
	if err != nil {
		c.broken = true
		return out, err
	}
	if got != want {
		c.broken = true
		return out, fmt.Errorf("dnf %s %s: %s is installed, want %s", cmd, spec, got, want)
	}
	return want + "\n" + out, nil
}

// newScriptlets fails when a scriptlet logged since the last call failed.
func (c *checker) newScriptlets() error {
	all, err := c.root.Scriptlets()
	if err != nil {
		return err
	}
	var failed []string
	for _, s := range all[min(c.seen, len(all)):] {
		if s.Exit != 0 {
			failed = append(failed, s.String())
		}
	}
	c.seen = len(all)
	if len(failed) > 0 {
		return fmt.Errorf("scriptlet failed (rpm and dnf only warn): %s", strings.Join(failed, "; "))
	}
	return nil
}

func (c *checker) installed(ctx context.Context) (string, error) {
	out, err := c.root.RPM(ctx, "-q", "--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\n", c.o.Name)
	if err != nil {
		return "", fmt.Errorf("%s is not installed: %s", c.o.Name, strings.TrimSpace(out))
	}
	lines := strings.Fields(out)
	if len(lines) != 1 {
		return "", fmt.Errorf("%s is installed %d times: %s", c.o.Name, len(lines), strings.Join(lines, " "))
	}
	return strings.Replace(lines[0], "-0:", "-", 1), nil
}

// verify checks rpm -V, the scriptlets so far, the systemd unit and the
// user it runs as.
func (c *checker) verify(ctx context.Context) (string, error) {
	if c.broken {
		return "", skipError("an earlier transaction failed")
	}
	var out strings.Builder
	var problems []string
	v, err := c.root.RPM(ctx, "-V", c.o.Name)
	fmt.Fprintf(&out, "rpm -V %s:\n%s", c.o.Name, v)
	if err != nil {
		problems = append(problems, "rpm -V: "+firstLine(v))
	}
	all, err := c.root.Scriptlets()
	if err != nil {
		problems = append(problems, err.Error())
	}
	fmt.Fprintf(&out, "scriptlets:\n")
	for _, s := range all {
		fmt.Fprintf(&out, "  %s\n", s)
		if s.Exit != 0 {
			problems = append(problems, "scriptlet failed: "+s.String())
		}
	}
	files, err := c.root.RPM(ctx, "-ql", c.o.Name)
	if err != nil {
		problems = append(problems, "rpm -ql: "+firstLine(files))
	}
	var units []string
	for _, f := range strings.Split(files, "\n") {
		if strings.Contains(f, "/systemd/system/") && strings.HasSuffix(f, ".service") {
			units = append(units, f)
		}
	}
	if len(units) == 0 {
		problems = append(problems, "no systemd unit (*/systemd/system/*.service) in "+c.o.Name)
	}
	for _, u := range units {
		b, err := os.ReadFile(filepath.Join(c.root.Dir, u))
		if err != nil {
			problems = append(problems, "unit "+u+": "+err.Error())
			continue
		}
		user := unitUser(string(b))
		if user == "" {
			fmt.Fprintf(&out, "unit %s: no User= (runs as root)\n", u)
			continue
		}
		pw, err := c.root.LookupUser(user)
		if err != nil {
			problems = append(problems, fmt.Sprintf("unit %s runs as %s: %v", u, user, err))
			continue
		}
		fmt.Fprintf(&out, "unit %s: User=%s (uid %d, home %s)\n", u, user, pw.UID, pw.Home)
	}
	if len(problems) > 0 {
		return out.String(), errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("%s: rpm -V clean, %d scriptlets ok, %s\n", c.o.Name, len(all), strings.Join(units, " ")) + out.String(), nil
}

// unitUser returns the User= of a unit's [Service] section.
func unitUser(unit string) string {
	section, user := "", ""
	for _, l := range strings.Split(unit, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && section == "[Service]" && strings.TrimSpace(k) == "User" {
			user = strings.TrimSpace(v)
		}
	}
	return user
}

func (c *checker) erase(ctx context.Context) (string, error) {
	if _, err := c.installed(ctx); err != nil {
		return "", skipError("nothing installed")
	}
	out, err := c.root.Dnf(ctx, "", "remove", c.o.Name)
	if err != nil {
		return out, fmt.Errorf("dnf remove %s failed: %w", c.o.Name, unwrapExit(err))
	}
	if err := c.newScriptlets(); err != nil {
		return out, err
	}
	if q, err := c.root.RPM(ctx, "-q", c.o.Name); err == nil {
		return out, fmt.Errorf("%s is still installed after dnf remove: %s", c.o.Name, strings.TrimSpace(q))
	}
	return c.o.Name + " removed\n" + out, nil
}

// unwrapExit shortens "cmd args...: exit status 1" to "exit status 1".
func unwrapExit(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(s, "\n", "\n      ")
}
