// Package rpm writes RPM packages, streaming.
//
// Write reads every file once: its contents are hashed (SHA-256 file
// digests) and written into a cpio archive that is compressed (pgzip,
// zstd or xz) into a temporary file, hashed again on the way. Files are
// opened, read and hashed on a goroutine of their own, at most 2 MB ahead
// of the archive, and gzip and zstd compress on goroutines of their own,
// so a build keeps two cores busy (xz compresses on one). Then the main
// header, the signature header and the legacy lead are built and written,
// followed by a copy of the payload. Memory use depends on the number of
// files, not on their size: about 15 MB of buffers with gzip or zstd (about
// 100 MB with xz at level 6, whose match finder is 12 times its 8 MB
// dictionary, as liblzma's -6), plus about 28 bytes per directory. The file
// list is read as a stream (Source) several times rather than held: file
// digests go to a temporary file during the payload pass, and the header is
// written in two passes into a temporary file, from which the signature
// header's digests are computed.
//
// The output follows what rpmbuild 4.18 writes for the same package, tag for
// tag (TestMatchesRPMBuild compares them): the same lead, the same signature
// header (digests, sizes and 4128 bytes of reserved space, so that the
// package can be signed in place), the same main header except OPTFLAGS,
// FILECLASS and CLASSDICT (libmagic descriptions), which are not written,
// and PLATFORM, which says <arch>-redhat-linux-gnu as on EL, and the same
// uncompressed cpio archive. It is deterministic: the same
// input gives the same bytes, whatever the number of CPUs.
//
// Files of 4 GiB or more switch the package to 64-bit sizes (LONGFILESIZES,
// LONGSIZE, rpmlib(LargeFiles)) and to rpm's stripped cpio headers
// ("07070X" + file index), as rpmbuild does; rpm2cpio refuses such packages
// ("files over 4GB not supported by cpio"), rpm installs them.
//
// Signing: with an RSA Signer the signature header gets RSAHEADER (header
// only) and PGP (header and payload, which rpm 4.11 on EL7 checks); with an
// EdDSA Signer only DSAHEADER, as rpmsign 4.16 and later write. Resign signs
// an existing package.
package rpm
