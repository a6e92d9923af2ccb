package proxy

import (
	"html"
	"net/http"
	"strconv"
	"strings"
)

// writePage writes a small error page: HTML when the client accepts it,
// plain text otherwise.
func writePage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Berth-Error", strconv.Itoa(status))
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" +
			strconv.Itoa(status) + " " + html.EscapeString(title) +
			"</title><style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;color:#333}</style></head>" +
			"<body><h1>" + html.EscapeString(title) + "</h1><p>" + html.EscapeString(msg) +
			"</p><hr><small>berth</small></body></html>\n"))
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(strconv.Itoa(status) + " " + title + ": " + msg + "\n"))
}

// writeMaintenance answers a request for an app in maintenance mode.
func writeMaintenance(w http.ResponseWriter, r *http.Request, page []byte) {
	w.Header().Set("Retry-After", "60")
	if len(page) == 0 {
		writePage(w, r, http.StatusServiceUnavailable, "Down for maintenance", "This service is down for maintenance and will be back shortly.")
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(page)
}

// writeAppPage writes the app's own page for status when it has one,
// else berth's.
func writeAppPage(w http.ResponseWriter, r *http.Request, ctr *counters, status int, title, msg string) {
	if ctr != nil {
		if pages := ctr.pages.Load(); pages != nil {
			if page, ok := (*pages)[status]; ok {
				h := w.Header()
				h.Set("Cache-Control", "no-store")
				h.Set("Content-Type", "text/html; charset=utf-8")
				h.Set("X-Berth-Error", strconv.Itoa(status))
				w.WriteHeader(status)
				_, _ = w.Write(page)
				return
			}
		}
	}
	writePage(w, r, status, title, msg)
}
