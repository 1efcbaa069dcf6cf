package api

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// uiFiles are the operator's status page: plain HTML, CSS and JavaScript,
// nothing fetched from elsewhere.
//
//go:embed ui
var uiFiles embed.FS

// uiPolicy lets the page load only its own files and talk only to this
// API; it cannot be framed.
const uiPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// uiRoutes serves the status page at /ui/ (and / sends there). The files
// need no token: the page asks the operator for it and sends it as the
// bearer token on each of its requests to /api/v1, which alone hold data.
func (s *Server) uiRoutes(r chi.Router) {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree is built in
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	r.Get("/ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusMovedPermanently) })
	r.Get("/ui/*", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", uiPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
