package console

import (
	"embed"
	"io/fs"
	"net/http"
)

// ui holds the dashboard: plain HTML, CSS and a small script, no external
// resources, so it works offline.
//
//go:embed ui
var ui embed.FS

// assets serves the dashboard under /ui/.
func assets() http.Handler {
	sub, err := fs.Sub(ui, "ui")
	if err != nil {
		panic(err) // the embedded tree always has ui/
	}
	return http.StripPrefix("/ui/", http.FileServerFS(sub))
}
