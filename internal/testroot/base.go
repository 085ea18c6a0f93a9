package testroot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/hostroot"
)

// The base package is built by pkg/hostroot (the production code that
// check-install uses) once per set of inputs and kept in
// $TMPDIR/rpmforge-testroot/<hash>/ across test binaries and runs: its name
// hashes the spec and every file it stages, so a changed host rebuilds it.
// Entries unused for a week are pruned when a new one is written.

func basePackage(t testing.TB, opts Options) string {
	t.Helper()
	provides := opts.Provides
	if provides == nil {
		provides = DefaultProvides
	}
	libs := opts.Libs
	if libs == nil {
		libs = DefaultLibs
	}
	p, err := hostroot.BasePackage(t.Context(), hostroot.Options{
		Provides:     provides,
		Libs:         libs,
		Python:       opts.Python,
		Name:         "testroot-base",
		ScriptletLog: ScriptletLogPath,
		CacheDir:     filepath.Join(os.TempDir(), "rpmforge-testroot"),
	})
	if err != nil {
		t.Fatalf("testroot: base package: %v", err)
	}
	return p
}
