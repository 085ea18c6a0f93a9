package channel

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"text/template"
)

// ClientOptions configure ClientConfig.
type ClientOptions struct {
	// BaseURL is where the repository root is served, such as
	// https://repo.example.com/rpm; the channel is a directory below it.
	BaseURL string
	// Name prefixes the repository id ("<name>-<channel>"); default the
	// configuration's name.
	Name string
	// ExtraKeys are further gpgkey URLs (a package signing key other than
	// the key that signs repomd.xml).
	ExtraKeys []string
	// MetadataExpire is how long hosts cache the metadata; default "1h"
	// (dnf's own default is 48h, too long to see promotions).
	MetadataExpire string
}

// ClientConfig is a host's repository file for a channel.
type ClientConfig struct {
	// FileName is its name in /etc/yum.repos.d (and /etc/zypp/repos.d).
	FileName string
	Text     string
	// Warnings say why hosts would refuse the channel as it is now.
	Warnings []string
}

var clientTemplate = template.Must(template.New("repo").Parse(`# {{.FileName}}: channel {{.Channel}} of {{.Name}}, published by rpmforge.
# Install as /etc/yum.repos.d/{{.FileName}} (dnf, yum) or /etc/zypp/repos.d/{{.FileName}} (zypper).
# Packages (gpgcheck) and repomd.xml (repo_gpgcheck) are checked against gpgkey;
# dnf imports the key on first use after asking, or import it first:
#   rpm --import {{index .Keys 0}}
[{{.ID}}]
name={{.Name}} ({{.Channel}})
baseurl={{.URL}}
type=rpm-md
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey={{range $i, $k := .Keys}}{{if $i}} {{end}}{{$k}}{{end}}
metadata_expire={{.Expire}}
`))

// ClientConfig returns the .repo file hosts use to install from channel
// ch, with gpgcheck=1, repo_gpgcheck=1 and gpgkey pointing at the key
// published at the channel's root.
func (r *Root) ClientConfig(ctx context.Context, ch string, o ClientOptions) (*ClientConfig, error) {
	if err := r.checkChannel(ch); err != nil {
		return nil, err
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" && u.Scheme != "file" {
		return nil, fmt.Errorf("channel: base URL %q: want an absolute URL such as https://repo.example.com/rpm (where the root is served)", o.BaseURL)
	}
	name := o.Name
	if name == "" {
		name = r.Config.Name
	}
	if !channelName.MatchString(name) {
		return nil, fmt.Errorf("channel: name %q: use lowercase letters, digits, '.', '_' and '-'", name)
	}
	expire := o.MetadataExpire
	if expire == "" {
		expire = "1h"
	}
	if strings.ContainsAny(expire, "\n\r") {
		return nil, fmt.Errorf("channel: metadata expiry %q: want a duration such as 1h", expire)
	}
	base := strings.TrimRight(o.BaseURL, "/") + "/" + ch + "/"
	keys := append([]string{base + r.Config.KeyName()}, o.ExtraKeys...)
	for _, k := range keys {
		if strings.ContainsAny(k, " \n\r") {
			return nil, fmt.Errorf("channel: key URL %q: spaces and newlines are not allowed", k)
		}
	}
	cc := &ClientConfig{FileName: name + "-" + ch + ".repo"}
	var b bytes.Buffer
	err = clientTemplate.Execute(&b, map[string]any{
		"FileName": cc.FileName, "ID": name + "-" + ch, "Name": name, "Channel": ch,
		"URL": base, "Keys": keys, "Expire": expire,
	})
	if err != nil {
		return nil, err
	}
	cc.Text = b.String()
	if _, err := r.store.Stat(ctx, ch+"/repodata/repomd.xml"); err != nil {
		cc.Warnings = append(cc.Warnings, fmt.Sprintf("channel %s is not published yet (hosts get 404 until a package is added or promoted to it)", ch))
	} else if _, err := r.store.Stat(ctx, ch+"/repodata/repomd.xml.asc"); err != nil {
		cc.Warnings = append(cc.Warnings, fmt.Sprintf("channel %s is not signed: hosts with repo_gpgcheck=1 refuse it (publish with --sign-key)", ch))
	} else if _, err := r.store.Stat(ctx, ch+"/"+r.Config.KeyName()); err != nil {
		cc.Warnings = append(cc.Warnings, fmt.Sprintf("channel %s has no %s: hosts cannot fetch the key (publish with --sign-key)", ch, r.Config.KeyName()))
	}
	return cc, nil
}
