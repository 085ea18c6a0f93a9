package sign

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/rpm"
)

// LoadFile is Load on a file.
func LoadFile(path string, passphrase []byte) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sign: key file: %w", err)
	}
	defer f.Close()
	return Load(f, "key file "+path, passphrase)
}

// ReadKeyFile adds the public keys in the file at path to kr.
func (kr *KeyRing) ReadKeyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sign: key file: %w", err)
	}
	defer f.Close()
	return kr.Add(f, "key file "+path)
}

func openFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return f, nil
}

// SignFile signs the package at path in place, atomically: the signed
// package is written to a temporary file in the same directory, synced and
// renamed over the original, so that path holds either the old or the new
// package, never a half-written one. Its permissions (and, when allowed,
// owner) are kept. A package whose digests do not match is not signed.
func SignFile(path string, k *Key) (err error) {
	// Replace the file a symlink points to, not the symlink.
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	in, err := openFile(path)
	if err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	if err := readLead(io.NewSectionReader(in, 0, st.Size())); err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".rpmforge-*")
	if err != nil {
		return fmt.Errorf("sign %s: temporary file: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := rpm.Resign(in, st.Size(), tmp, k); err != nil {
		return fmt.Errorf("sign %s: %w (the package was left unchanged)", path, err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		// Keep the owner when we may (as root); otherwise the file is
		// ours, as with any rewrite.
		if err := tmp.Chown(int(sys.Uid), int(sys.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("sign %s: %w", path, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sign %s: writing: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sign %s: writing: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// SignRepomd signs a repository's repodata/repomd.xml: it writes the
// armored detached signature repomd.xml.asc (what dnf checks with
// repo_gpgcheck=1, and zypper) and the public key repomd.xml.key beside it,
// each atomically. repomd.xml must be final: any later change to it
// invalidates the signature.
func SignRepomd(repomdPath string, k *Key) error {
	f, err := os.Open(repomdPath)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	defer f.Close()
	var sig, pub bytes.Buffer
	if err := k.SignDetachedArmored(f, &sig); err != nil {
		return fmt.Errorf("sign: %s: %w", repomdPath, err)
	}
	if err := k.WritePublic(&pub); err != nil {
		return err
	}
	for _, o := range []struct {
		path string
		data []byte
	}{{repomdPath + ".asc", sig.Bytes()}, {repomdPath + ".key", pub.Bytes()}} {
		if err := fsutil.WriteFileAtomic(o.path, o.data, 0o644); err != nil {
			return fmt.Errorf("sign: %w", err)
		}
	}
	return nil
}
