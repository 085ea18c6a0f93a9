// Package gitinfo derives an RPM version, the VCS tag and a %changelog from
// a project's git history, by running the git command.
package gitinfo

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNotRepo says the directory is not inside a git work tree.
var ErrNotRepo = errors.New("gitinfo: not a git repository")

// Info is what a build takes from git.
type Info struct {
	Commit     string    // full hash of HEAD
	CommitTime time.Time // committer time of HEAD
	Describe   string    // raw 'git describe --tags --long' output, "" without tags
	Remote     string    // origin URL, "" if none
}

// Change is one %changelog entry.
type Change struct {
	Time   time.Time
	Author string // "Name <email>"
	Text   string
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if strings.Contains(msg, "not a git repository") {
			return "", fmt.Errorf("%s: %w", dir, ErrNotRepo)
		}
		return "", fmt.Errorf("gitinfo: git %s in %s: %s: %w", strings.Join(args, " "), dir, msg, err)
	}
	return strings.TrimSpace(out.String()), nil
}

// Read collects HEAD's commit, time, description and remote.
func Read(dir string) (*Info, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("gitinfo: git not found on PATH (install git, or set package.version): %w", err)
	}
	line, err := git(dir, "log", "-1", "--format=%H %ct")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return nil, fmt.Errorf("gitinfo: %s has no commits yet (commit first, or set package.version): %w", dir, ErrNotRepo)
	}
	ct, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("gitinfo: bad commit time %q: %w", f[1], err)
	}
	info := &Info{Commit: f[0], CommitTime: time.Unix(ct, 0).UTC()}
	// No tag is not an error: Version falls back to 0.0.0.
	info.Describe, _ = git(dir, "describe", "--tags", "--long", "--match", "v[0-9]*", "--match", "[0-9]*")
	info.Remote, _ = git(dir, "config", "--get", "remote.origin.url")
	return info, nil
}

var describeRe = regexp.MustCompile(`^v?(.+)-(\d+)-g([0-9a-f]+)$`)

// Version turns the description into an RPM version that sorts as the
// history does under rpm's version comparison on every Enterprise Linux from
// 7 on (rpm 4.11: '~' is known, '^' is not):
//
//	v1.2.3 exactly           -> 1.2.3
//	3 commits after v1.2.3   -> 1.2.3.post3.gabc1234  (after 1.2.3, before 1.2.4 and 1.2.3.1)
//	v1.2.3-rc1               -> 1.2.3~rc1             (before 1.2.3)
//	no tag, 7 commits        -> 0.0.0.post7.gabc1234
func (i *Info) Version(commitCount int) (string, error) {
	short := i.Commit
	if len(short) > 7 {
		short = short[:7]
	}
	if i.Describe == "" {
		return fmt.Sprintf("0.0.0.post%d.g%s", commitCount, short), nil
	}
	m := describeRe.FindStringSubmatch(i.Describe)
	if m == nil {
		return "", fmt.Errorf("gitinfo: cannot read 'git describe' output %q", i.Describe)
	}
	base := tagVersion(m[1])
	if !validVersion(base) {
		return "", fmt.Errorf("gitinfo: tag %q does not make an RPM version (use tags like v1.2.3 or v1.2.3-rc1)", m[1])
	}
	if m[2] == "0" {
		return base, nil
	}
	return fmt.Sprintf("%s.post%s.g%s", base, m[2], m[3]), nil
}

// tagVersion maps a tag's pre-release suffix to rpm's '~' (1.2.3-rc1, 1.2.3rc1 -> 1.2.3~rc1).
func tagVersion(tag string) string {
	re := regexp.MustCompile(`^([0-9][0-9.]*?)[-_.]?((?:a|alpha|b|beta|rc|pre|dev)[0-9.]*)$`)
	if m := re.FindStringSubmatch(tag); m != nil {
		return m[1] + "~" + strings.ReplaceAll(m[2], "-", ".")
	}
	return strings.ReplaceAll(tag, "-", ".")
}

var versionRe = regexp.MustCompile(`^[0-9][A-Za-z0-9._+~]*$`)

func validVersion(v string) bool { return versionRe.MatchString(v) }

// CommitCount is the number of commits reachable from HEAD.
func CommitCount(dir string) (int, error) {
	out, err := git(dir, "rev-list", "--count", "HEAD")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

// VCS is the value of the RPM VCS tag: the origin and commit, never a local
// path (that would differ between two checkouts and break reproducibility).
func (i *Info) VCS() string {
	r := i.Remote
	if r == "" || strings.HasPrefix(r, "/") || strings.HasPrefix(r, "file:") || strings.HasPrefix(r, ".") {
		return "git:" + i.Commit
	}
	if strings.Contains(r, "@") && !strings.Contains(r, "://") { // scp-like git@host:path
		r = "ssh://" + strings.Replace(r, ":", "/", 1)
	}
	if u := strings.Index(r, "://"); u >= 0 { // drop credentials from https://user:token@host
		if at := strings.LastIndex(r, "@"); at > u {
			r = r[:u+3] + r[at+1:]
		}
	}
	return "git+" + r + "#" + i.Commit
}

// Changelog returns up to n entries from the history of dir (commits that
// touch it, so a project in a monorepo gets its own log), newest first,
// sorted by time as rpm requires.
func Changelog(dir string, n int) ([]Change, error) {
	if n <= 0 {
		return nil, nil
	}
	out, err := git(dir, "log", "-n", strconv.Itoa(n), "--no-merges", "--format=%ct%x00%an <%ae>%x00%s%x00", "--", ".")
	if err != nil {
		return nil, err
	}
	var changes []Change
	parts := strings.Split(out, "\x00")
	for k := 0; k+2 < len(parts); k += 3 {
		ts, err := strconv.ParseInt(strings.TrimSpace(parts[k]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("gitinfo: bad log time %q: %w", parts[k], err)
		}
		changes = append(changes, Change{Time: time.Unix(ts, 0).UTC(), Author: parts[k+1], Text: "- " + parts[k+2]})
	}
	sort.SliceStable(changes, func(a, b int) bool { return changes[a].Time.After(changes[b].Time) })
	return changes, nil
}
