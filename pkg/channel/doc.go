// Package channel manages a repository root holding several release
// channels (dev, staging, prod by default) of yum/dnf/zypper repositories
// that share one content-addressed pool of RPM packages, modelled on
// aptly's pool + snapshot + publish switch and Pulp's immutable repository
// versions.
//
// Layout of a root (docs/channels.md has the details):
//
//	rpmforge-channels.toml              optional configuration (Config)
//	pool/<aa>/<sha256>.rpm              every package, named by its SHA-256
//	<channel>/Packages/<n-v-r.a>.rpm    links to pool objects (hard links by default)
//	<channel>/repodata/...              the channel's published metadata (pkg/repo)
//	<channel>/RPM-GPG-KEY-<name>        the public key that signs repomd.xml
//	.rpmforge/lock                      the root's lock (flock)
//	.rpmforge/channels/<ch>/history.json  the channel's snapshots
//	.rpmforge/sets/<aa>/<sha256>.json   package sets, named by their SHA-256
//	.rpmforge/pool.json                 what the pool holds and held
//	.rpmforge/publish/<ch>/             pkg/repo's publish cache
//
// Every change of a channel (Add, Promote, Prune, Rollback) records an
// immutable Snapshot in its history and publishes its package set: the
// package links first, repomd.xml last. Promotion copies nothing but the
// reference: the same pool object, the same bytes, the same signature.
// Changes of a root are serialised by its lock.
package channel
