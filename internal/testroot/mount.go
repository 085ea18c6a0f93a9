package testroot

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/hostroot"
)

// HostRun describes a command run on the host in a private mount namespace
// (unshare -m) where paths of the root appear at their real place: the way to
// run an installed application with the host's python while the build tree is
// out of sight.
type HostRun struct {
	// Bind are absolute paths, such as "/opt/mysite" or "/var/lib/mysite",
	// whose copy in the root is bind-mounted over the same path of the host.
	// When the host lacks the path, its parent (which must exist) is first
	// covered by an empty tmpfs, so for "/opt/mysite" the rest of the host's
	// /opt is hidden too.
	Bind []string
	// BindRO are bound like Bind, but read-only: running as root, python
	// would otherwise write __pycache__ through the bind into the root.
	BindRO []string
	// Hide are host directories covered by an empty tmpfs, such as the build
	// tree, so that a path left pointing into it cannot resolve.
	Hide []string
	// Env is added to the command's environment, which otherwise holds only
	// PATH, HOME=/root and LANG (nothing from the test process).
	Env []string
	// Dir is the working directory, a path as seen inside the namespace.
	Dir string
	// User, when set, names a user of the root's /etc/passwd (such as the one
	// a package's %pre created) to run the command as, by uid and gid, with
	// HOME set to its home directory (setpriv --reuid --regid --clear-groups).
	User string
}

// RunAtInstallPath runs cmd on the host with the root's prefix (for example
// /opt/mysite) bind-mounted at prefix, as RunHost with Bind = {prefix}:
//
//	r.RunAtInstallPath(t, "/opt/mysite", "/opt/mysite/venv/bin/python", "/opt/mysite/src/manage.py", "check")
func (r *Root) RunAtInstallPath(t testing.TB, prefix string, cmd ...string) (string, error) {
	t.Helper()
	return r.RunHost(t, HostRun{Bind: []string{prefix}}, cmd...)
}

// RunHost runs cmd on the host in a private mount namespace set up as h says,
// and returns its combined output. Nothing it mounts is visible outside.
func (r *Root) RunHost(t testing.TB, h HostRun, cmd ...string) (string, error) {
	t.Helper()
	if len(cmd) == 0 {
		t.Fatal("testroot: RunHost without a command")
	}
	script, err := r.mountScript(h)
	if err != nil {
		t.Fatalf("testroot: %v", err)
	}
	home := "/root"
	if h.User != "" {
		u, err := r.LookupUser(h.User)
		if err != nil {
			t.Fatalf("testroot: %v", err)
		}
		home = u.Home
		cmd = append([]string{"setpriv", "--reuid=" + strconv.Itoa(u.UID), "--regid=" + strconv.Itoa(u.GID), "--clear-groups", "--"}, cmd...)
	}
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"LANG=C.UTF-8",
	}
	env = append(env, h.Env...)
	args := append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-euc", script, "testroot-ns"}, cmd...)
	return run(t.Context(), env, "", "unshare", args...)
}

// mountScript returns the sh script that makes the mounts, changes directory
// and execs "$@".
func (r *Root) mountScript(h HostRun) (string, error) {
	var s strings.Builder
	type bind struct {
		path string
		ro   bool
	}
	var binds []bind
	for _, p := range h.Bind {
		binds = append(binds, bind{p, false})
	}
	for _, p := range h.BindRO {
		binds = append(binds, bind{p, true})
	}
	sort.Slice(binds, func(i, j int) bool { return binds[i].path < binds[j].path })
	covered := map[string]bool{}
	for _, b := range binds {
		p := b.path
		if !path.IsAbs(p) || path.Clean(p) == "/" {
			return "", fmt.Errorf("bind path %q: want an absolute path below /", p)
		}
		p = path.Clean(p)
		src := filepath.Join(r.Dir, p)
		if fi, err := os.Stat(src); err != nil {
			return "", fmt.Errorf("bind %s: %w", p, err)
		} else if !fi.IsDir() {
			return "", fmt.Errorf("bind %s: %s is not a directory", p, src)
		}
		_, err := os.Stat(p)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrNotExist):
			parent := path.Dir(p)
			if !covered[parent] {
				if _, err := os.Stat(parent); err != nil {
					return "", fmt.Errorf("bind %s: host lacks %s too: %w", p, parent, err)
				}
				if strings.HasPrefix(r.Dir+"/", parent+"/") {
					return "", fmt.Errorf("bind %s: the root %s is under %s, which would be hidden; set TMPDIR elsewhere", p, r.Dir, parent)
				}
				fmt.Fprintf(&s, "mount -t tmpfs -o mode=0755 testroot %s\n", shQuote(parent))
				covered[parent] = true
			}
			fmt.Fprintf(&s, "mkdir -p %s\n", shQuote(p))
		default:
			return "", fmt.Errorf("bind %s: %w", p, err)
		}
		fmt.Fprintf(&s, "mount --bind %s %s\n", shQuote(src), shQuote(p))
		if b.ro {
			fmt.Fprintf(&s, "mount -o remount,bind,ro %s\n", shQuote(p))
		}
	}
	for _, p := range h.Hide {
		if !path.IsAbs(p) || path.Clean(p) == "/" {
			return "", fmt.Errorf("hide path %q: want an absolute path below /", p)
		}
		fmt.Fprintf(&s, "mount -t tmpfs -o mode=0755 testroot-hide %s\n", shQuote(path.Clean(p)))
	}
	if h.Dir != "" {
		fmt.Fprintf(&s, "cd %s\n", shQuote(h.Dir))
	}
	s.WriteString(`exec "$@"` + "\n")
	return s.String(), nil
}

func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// User is an entry of the root's /etc/passwd.
type User = hostroot.User

// LookupUser reads name's entry from the root's /etc/passwd (not the host's).
func (r *Root) LookupUser(name string) (User, error) { return hostroot.LookupUser(r.Dir, name) }
