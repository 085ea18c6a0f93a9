package gitinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	commit := "abc1234def5678"
	tests := []struct{ describe, want string }{
		{"v1.2.3-0-gabc1234", "1.2.3"},
		{"v1.2.3-3-gabc1234", "1.2.3.post3.gabc1234"},
		{"1.2.3-12-gabc1234", "1.2.3.post12.gabc1234"},
		{"v1.2.3-rc1-0-gabc1234", "1.2.3~rc1"},
		{"v1.2.3rc1-2-gabc1234", "1.2.3~rc1.post2.gabc1234"},
		{"v2.0.0-beta.2-0-gabc1234", "2.0.0~beta.2"},
		{"", "0.0.0.post7.gabc1234"},
	}
	for _, tt := range tests {
		i := &Info{Commit: commit, Describe: tt.describe}
		got, err := i.Version(7)
		if err != nil {
			t.Errorf("%q: %v", tt.describe, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.describe, got, tt.want)
		}
	}
	if _, err := (&Info{Commit: commit, Describe: "vfoo bar-1-gabc"}).Version(1); err == nil {
		t.Error("bad tag: got no error")
	}
}

// TestVersionOrderWithRPM checks the promise that matters: versions derived
// from history sort as the history does under rpm's own comparison.
func TestVersionOrderWithRPM(t *testing.T) {
	if _, err := exec.LookPath("rpmdev-vercmp"); err != nil {
		if _, err := exec.LookPath("rpm"); err != nil {
			t.Skip("rpm not installed")
		}
	}
	ordered := []string{"1.2.3~rc1", "1.2.3~rc1.post2.gabc1234", "1.2.3", "1.2.3.post1.gfff0000", "1.2.3.post3.gabc1234", "1.2.3.post10.g0000000", "1.2.3.1", "1.2.4~rc1", "1.2.4", "1.10.0"}
	for i := 0; i+1 < len(ordered); i++ {
		a, b := ordered[i], ordered[i+1]
		out, err := exec.Command("rpm", "--eval", "%{lua: print(rpm.vercmp('"+a+"', '"+b+"'))}").Output()
		if err != nil {
			t.Fatalf("rpm --eval: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != "-1" {
			t.Errorf("rpm.vercmp(%s, %s) = %s, want -1", a, b, got)
		}
	}
}

func TestReadRepo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z", "GIT_AUTHOR_DATE=2024-01-02T03:04:05Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if _, err := Read(dir); err == nil {
		t.Fatal("not a repo: got no error")
	}
	run("init", "-q")
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	run("add", "a")
	run("commit", "-qm", "first & <best>")
	run("tag", "v1.0.0")
	os.WriteFile(filepath.Join(dir, "a"), []byte("b"), 0o644)
	run("commit", "-qam", "second")
	run("remote", "add", "origin", "https://user:secret@git.example.com/team/app.git")
	i, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := CommitCount(dir)
	v, err := i.Version(n)
	if err != nil || !strings.HasPrefix(v, "1.0.0.post1.g") {
		t.Errorf("got version %q, %v", v, err)
	}
	if vcs := i.VCS(); vcs != "git+https://git.example.com/team/app.git#"+i.Commit {
		t.Errorf("got VCS %q (credentials must be dropped)", vcs)
	}
	ch, err := Changelog(dir, 5)
	if err != nil || len(ch) != 2 || ch[1].Text != "- first & <best>" || ch[0].Author != "T <t@example.com>" {
		t.Errorf("got changelog %+v, %v", ch, err)
	}
}
