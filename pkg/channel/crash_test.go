package channel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/internal/testroot"
)

// TestCrashCLI kills (SIGKILL) the real rpmforge binary in the middle of
// repo add, repo promote and repo rollback, at random moments spread over
// each command's measured duration, many times. After each kill the root
// passes CheckRoot (and, as a second opinion, the binary's repo check-root),
// dnf makecache reads every channel (signed repomd.xml,
// repo_gpgcheck=1), and re-running the command finishes the job: the
// root's channels then hold the package sets, and have the head
// revisions, of a root where the same commands ran without a kill.
func TestCrashCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	iterations := 20
	if s := os.Getenv("RPMFORGE_CRASH_ITERATIONS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			iterations = n
		}
	}
	bin := filepath.Join(t.TempDir(), "rpmforge")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/rpmforge/rpmforge/cmd/rpmforge").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var host *testroot.Root
	if os.Geteuid() == 0 || os.Getenv("RPMFORGE_TESTROOT") == "require" {
		if _, err := exec.LookPath("dnf"); err == nil || os.Getenv("RPMFORGE_TESTROOT") == "require" {
			host = testroot.New(t)
		}
	}
	key, _ := filepath.Abs(keyPath("rsa4096", "sec"))
	pub, _ := filepath.Abs(keyPath("rsa4096", "pub"))
	crashed := filepath.Join(t.TempDir(), "crashed")
	clean := filepath.Join(t.TempDir(), "clean")
	src := t.TempDir()
	const perBatch = 12
	batch := func(i int) []string {
		var files []string
		for j := range perBatch {
			files = append(files, buildPkg(t, filepath.Join(src, strconv.Itoa(i)), fmt.Sprintf("crash%02d", j),
				fmt.Sprintf("1.%d", i), "1", strings.Repeat(fmt.Sprintf("batch %d package %d\n", i, j), 200), nil))
		}
		return files
	}
	cmdFor := func(root string, args []string) *exec.Cmd {
		a := append([]string{"repo", args[0], "--root", root, "--sign-key", key, "-q"}, args[1:]...)
		cmd := exec.Command(bin, a...)
		cmd.Env = append(os.Environ(), "RPMFORGE_USER=crash-test")
		return cmd
	}
	runOK := func(root string, args []string) time.Duration {
		t.Helper()
		start := time.Now()
		if out, err := cmdFor(root, args).CombinedOutput(); err != nil {
			t.Fatalf("rpmforge %s on %s: %v\n%s", strings.Join(args, " "), filepath.Base(root), err, out)
		}
		return time.Since(start)
	}
	ctx := context.Background()
	badSig := map[string]bool{} // channels caught in the signature window, checked again after the re-run
	sigWindows := 0
	checkRoot := func(what string, withDnf bool) {
		t.Helper()
		res, err := CheckRoot(ctx, crashed)
		if err != nil {
			t.Fatalf("%s: root inconsistent: %v", what, err)
		}
		if out, err := exec.Command(bin, "repo", "check-root", "--root", crashed).CombinedOutput(); err != nil {
			t.Fatalf("%s: rpmforge repo check-root: %v\n%s", what, err, out)
		}
		if host == nil || !withDnf {
			return
		}
		for _, cc := range res.Channels {
			if cc.Repomd == "" {
				continue
			}
			out, err := host.DnfWithOptions(filepath.Join(crashed, cc.Channel), testroot.DnfOptions{GPGKey: pub, RepoGPGCheck: true}, "makecache")
			if err != nil && strings.Contains(out, "repomd.xml GPG signature verification error") {
				// Known window (docs/hardening.md): killed between renaming
				// repomd.xml.asc and repomd.xml, the new signature sits
				// beside the old repomd.xml until the next change of the
				// channel republishes it. The re-run below must clear it.
				badSig[cc.Channel] = true
				t.Logf("%s: dnf makecache of %s: signature window hit (repomd.xml.asc newer than repomd.xml)", what, cc.Channel)
				continue
			}
			if err != nil {
				t.Fatalf("%s: dnf makecache of %s: %v\n%s", what, cc.Channel, err, out)
			}
			dnfChecks++
			lines := strings.Split(strings.TrimSpace(out), "\n")
			t.Logf("%s: dnf makecache %s (repomd %s, %d packages): %s", what, cc.Channel, cc.Repomd, cc.Packages, lines[len(lines)-1])
		}
	}
	sameState := func(what string) {
		t.Helper()
		a, err := Open(crashed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(clean, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range DefaultChannels {
			pa, sa, err := a.Packages(ctx, ch, 0)
			if err != nil {
				t.Fatalf("%s: %s: %v", what, ch, err)
			}
			pb, sb, err := b.Packages(ctx, ch, 0)
			if err != nil {
				t.Fatalf("%s: %s: %v", what, ch, err)
			}
			if (sa == nil) != (sb == nil) || sa != nil && (sa.Revision != sb.Revision || sa.Set != sb.Set || sa.Pending || sb.Pending) {
				t.Fatalf("%s: %s: head %+v after the kill and re-run, %+v in a clean run", what, ch, sa, sb)
			}
			if got, want := crashNEVRAs(pa), crashNEVRAs(pb); !slices.Equal(got, want) {
				t.Fatalf("%s: %s holds %v after the kill and re-run, %v in a clean run", what, ch, got, want)
			}
		}
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var killed, completed, recovered int
	// crash runs args on the clean root, then on the crashed root killed
	// after a random delay, checks it, runs args again and compares.
	crash := func(what string, args []string, i int) {
		t.Helper()
		d := runOK(clean, args)
		delay := time.Duration(rng.Int64N(int64(d)*6/5 + 1))
		cmd := cmdFor(crashed, args)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", what, err, out.String())
			}
			completed++
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			if err := <-done; err == nil {
				completed++
			} else {
				killed++
			}
		}
		checkRoot(fmt.Sprintf("%s (killed after %v of %v)", what, delay.Round(time.Millisecond), d.Round(time.Millisecond)), true)
		c := cmdFor(crashed, args)
		o, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: re-run: %v\n%s", what, err, o)
		}
		if strings.Contains(string(o), "left pending") {
			recovered++
		}
		checkRoot(what+" re-run", false)
		for ch := range badSig {
			out, err := host.DnfWithOptions(filepath.Join(crashed, ch), testroot.DnfOptions{GPGKey: pub, RepoGPGCheck: true}, "makecache")
			if err != nil {
				t.Fatalf("%s: the re-run did not repair %s's signature: dnf makecache: %v\n%s", what, ch, err, out)
			}
			sigWindows++
			delete(badSig, ch)
		}
		sameState(what)
	}

	for i := range iterations {
		files := batch(i)
		crash(fmt.Sprintf("add %d", i), append([]string{"add", "--channel", "dev"}, files...), i)
	}
	t.Logf("add: %d killed, %d completed before the kill, %d re-runs published a pending revision", killed, completed, recovered)
	killed, completed, recovered = 0, 0, 0
	for i := range iterations {
		from, to := "dev", "staging"
		if i%2 == 1 {
			from, to = "staging", "prod"
		}
		args := []string{"promote", "--from", from, "--to", to}
		for j := range perBatch {
			args = append(args, fmt.Sprintf("crash%02d-1.%d", j, i-i%2))
		}
		crash(fmt.Sprintf("promote %d", i), args, i)
	}
	t.Logf("promote: %d killed, %d completed before the kill, %d re-runs published a pending revision", killed, completed, recovered)
	killed, completed, recovered = 0, 0, 0
	for i := range iterations {
		ch := []string{"staging", "prod"}[i%2]
		r, err := Open(clean, Options{})
		if err != nil {
			t.Fatal(err)
		}
		h, err := r.History(ctx, ch)
		if err != nil || len(h) < 2 {
			t.Fatalf("history of %s: %v (%d snapshots)", ch, err, len(h))
		}
		to := 1 + rng.IntN(len(h)-1)
		crash(fmt.Sprintf("rollback %d (%s to %d)", i, ch, to), []string{"rollback", "--channel", ch, "--to", strconv.Itoa(to)}, i)
	}
	t.Logf("rollback: %d killed, %d completed before the kill, %d re-runs published a pending revision", killed, completed, recovered)
	t.Logf("dnf makecache succeeded %d times; %d kills landed in the repomd.xml.asc/repomd.xml window and the re-run repaired them", dnfChecks, sigWindows)
}

var dnfChecks int

func crashNEVRAs(ps []PoolObject) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.NEVRA()+"@"+p.SHA256)
	}
	slices.Sort(s)
	return s
}
