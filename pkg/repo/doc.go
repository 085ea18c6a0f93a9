// Package repo publishes yum/dnf/zypper repositories: the repodata of a
// directory of RPM packages (primary, filelists and other XML, optional
// sqlite databases, repomd.xml, its signature), field for field what
// createrepo_c 0.17 writes, faster and more safely.
//
// Publish reads each new or changed package once (one read, one SHA-256
// pass, the headers parsed in place), renders its three XML fragments, and
// caches them in chunks of about 64 packages, each compressed as one gzip
// member (or zstd frame): unchanged packages are neither read, rendered nor
// recompressed on the next publish, and with nothing changed nothing is
// written. Metadata files are content-addressed and written before
// repomd.xml, which is replaced last and atomically; files of the previous
// generations stay for a grace period; a flock serialises publishers.
//
// Repodata goes through a Storage (DirStorage for a local directory); the
// lock, state and cache live in a local directory (Options.StateDir). Check
// verifies a published repository. See docs/repo.md.
package repo
