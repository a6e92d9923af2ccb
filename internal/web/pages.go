package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
)

// pageData is what a page's template gets.
type pageData struct {
	Title string
	// Who is the signed-in person (nil on the sign-in page).
	Who *signedIn
	// Scripts are the page's own scripts under /static/, in order.
	Scripts []string
	// App, Env and Deployment are what the page is about, for its
	// script (as data- attributes of the body).
	App, Env   string
	Deployment int64
	Build      int64
	// Next is where the sign-in page goes after signing in; Notice
	// tells why the person is there; Error is an error page's text.
	Next, Notice, Error string
}

// pages are the parsed templates, one set per page (each with the
// layout).
type pages struct {
	sets map[string]*template.Template
}

var pageNames = []string{"login", "overview", "app", "deployment", "audit", "logs", "deploy", "builds", "build", "charts", "error"}

func parsePages() (*pages, error) {
	p := &pages{sets: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse page %s: %w", name, err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// render writes page name with d; the template runs into a buffer
// first, so that a failing one answers a plain 500, not half a page.
func (c *Console) render(w http.ResponseWriter, name string, d pageData) {
	t, ok := c.pages.sets[name]
	if !ok {
		c.log.Error("render: no such page", "page", name)
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		c.log.Error("render page", "page", name, "error", err)
		http.Error(w, "the page could not be rendered: see the server's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}
