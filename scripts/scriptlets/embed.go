// Package scriptlets carries the templates of the host integration files
// rpmforge generates: the %pre/%post/%preun/%postun scriptlets, the systemd
// unit, the environment file and the manage wrapper. pkg/service renders them.
package scriptlets

import "embed"

// FS holds the *.tmpl files of this directory.
//
//go:embed *.tmpl
var FS embed.FS
