// Package serve serves a repository root over HTTP for small setups and
// demos: GET and HEAD only, range requests, conditional requests, and the
// caching headers the content-addressed layout allows. Production setups
// put nginx or an object store in front (docs/channels.md).
//
// Files are opened through an os.Root, so that no request reaches outside
// the root: not with "..", not with encoded forms such as %2e%2e%2f (the
// path is decoded once and every segment checked), not through a symlink
// pointing outside (os.Root refuses to follow it). Symlinks inside the root
// (channels in symlink mode point into pool/) are followed. Hidden names
// (.rpmforge, temporary files) are never served.
package serve

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Options configure a Handler.
type Options struct {
	// Log receives one line per request (nil: no access log).
	Log *log.Logger
	// NoListing answers 404 for directories instead of an index page.
	NoListing bool
}

// Handler serves the directory root.
type Handler struct {
	root *os.Root
	dir  string
	opts Options
}

// New returns a Handler for the directory dir. Close it when done.
func New(dir string, opts Options) (*Handler, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return &Handler{root: r, dir: dir, opts: opts}, nil
}

// Close releases the root directory.
func (h *Handler) Close() error { return h.root.Close() }

// Cache policies, by what the layout guarantees.
const (
	// repodata/<sha256>-primary.xml.gz and pool/<aa>/<sha256>.rpm never
	// change: their name is their content.
	cacheImmutable = "public, max-age=31536000, immutable"
	// A package file name is its NEVRA, and rpmforge never lets a NEVRA
	// change bytes; a channel may drop it (prune, rollback).
	cachePackage = "public, max-age=86400"
	// repomd.xml, its signature and key, and everything else: caches
	// revalidate every time (a cheap 304 with ETag/Last-Modified).
	cacheRevalidate = "no-cache"
)

var contentAddressed = regexp.MustCompile(`(^|/)repodata/[0-9a-f]{64}-[^/]+$|(^|/)pool/[0-9a-f]{2}/[0-9a-f]{64}\.rpm$`)

// cachePolicy returns the Cache-Control of the file at name.
func cachePolicy(name string) string {
	switch {
	case contentAddressed.MatchString(name):
		return cacheImmutable
	case strings.HasSuffix(name, ".rpm"):
		return cachePackage
	}
	return cacheRevalidate
}

var contentTypes = map[string]string{
	".rpm":    "application/x-rpm",
	".xml":    "application/xml",
	".gz":     "application/gzip",
	".xz":     "application/x-xz",
	".zst":    "application/zstd",
	".bz2":    "application/x-bzip2",
	".zck":    "application/octet-stream",
	".sqlite": "application/vnd.sqlite3",
	".asc":    "text/plain; charset=utf-8",
	".key":    "text/plain; charset=utf-8",
	".repo":   "text/plain; charset=utf-8",
	".json":   "application/json",
	".toml":   "text/plain; charset=utf-8",
	".md":     "text/plain; charset=utf-8",
}

func contentType(name string) string {
	base := path.Base(name)
	if strings.HasPrefix(base, "RPM-GPG-KEY") {
		return "text/plain; charset=utf-8"
	}
	if t, ok := contentTypes[path.Ext(base)]; ok {
		return t
	}
	return "application/octet-stream"
}

// clean turns a request path into a name relative to the root ("." for
// the root itself), or reports why it is refused: every segment of the
// decoded path must be a plain name, not "..", ".", hidden, or holding a
// NUL or a backslash.
func clean(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	p = strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
	if p == "" {
		return ".", true
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || strings.HasPrefix(seg, ".") || strings.ContainsAny(seg, "\x00\\") {
			return "", false
		}
	}
	return p, true
}

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	h.serve(sw, r)
	if h.opts.Log != nil {
		h.opts.Log.Printf("%s %s %q %d %d %s", r.RemoteAddr, r.Method, r.URL.RequestURI(), sw.status, sw.n, time.Since(start).Round(time.Microsecond))
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// r.URL.Path is decoded once (%2e%2e%2f is "../" there); check the
	// raw form too, in case a proxy decodes again.
	raw := r.URL.EscapedPath()
	twice, err := url.PathUnescape(r.URL.Path)
	if err != nil {
		twice = r.URL.Path
	}
	name, ok := clean(r.URL.Path)
	if _, ok2 := clean(twice); !ok || !ok2 || strings.Contains(raw, "%00") {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	f, err := h.root.Open(name)
	if err != nil {
		h.fail(w, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		h.fail(w, err)
		return
	}
	if st.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, path.Base(r.URL.Path)+"/", http.StatusMovedPermanently)
			return
		}
		h.listing(w, r, f, name)
		return
	}
	if !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", contentType(name))
	hd.Set("Cache-Control", cachePolicy(name))
	hd.Set("ETag", fmt.Sprintf(`"%x-%x"`, st.ModTime().UnixNano(), st.Size()))
	http.ServeContent(w, r, "", st.ModTime(), f)
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, "404 page not found", http.StatusNotFound)
	case errors.Is(err, fs.ErrPermission):
		http.Error(w, "forbidden", http.StatusForbidden)
	default:
		// os.Root's "path escapes from parent" and friends: a symlink
		// pointing outside the root is as good as absent.
		http.Error(w, "404 page not found", http.StatusNotFound)
	}
}

// listing writes a plain index of a directory (hidden entries left out).
func (h *Handler) listing(w http.ResponseWriter, r *http.Request, f *os.File, name string) {
	if h.opts.NoListing {
		http.NotFound(w, r)
		return
	}
	ents, err := f.ReadDir(-1)
	if err != nil && !errors.Is(err, io.EOF) {
		h.fail(w, err)
		return
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	slices.Sort(names)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", cacheRevalidate)
	if r.Method == http.MethodHead {
		return
	}
	title := "/" + strings.TrimPrefix(name, ".")
	fmt.Fprintf(w, "<!DOCTYPE html>\n<title>Index of %s</title>\n<h1>Index of %s</h1>\n<pre>\n", html.EscapeString(title), html.EscapeString(title))
	if name != "." {
		fmt.Fprintln(w, `<a href="../">../</a>`)
	}
	for _, n := range names {
		u := url.URL{Path: "./" + n}
		fmt.Fprintf(w, "<a href=\"%s\">%s</a>\n", html.EscapeString(u.EscapedPath()), html.EscapeString(n))
	}
	fmt.Fprintln(w, "</pre>")
}

// Run serves h on ln until ctx is done, then shuts down gracefully (giving
// requests in flight 5 seconds).
func Run(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: shutting down: %w", err)
	}
	return nil
}
