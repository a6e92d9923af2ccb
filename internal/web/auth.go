package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/api/dto"
)

// signedIn is the person a page is for, as the API says.
type signedIn struct {
	dto.WhoAmI
}

// apiGet asks the API, in-process, for path with r's cookie (and
// address), as the page's own script would: the API's authentication
// and permission check decide. It answers the status and the body (at
// most 64 KiB).
func (c *Console) apiGet(r *http.Request, path string) (int, []byte) {
	return c.apiGetMax(r, path, 64<<10)
}

// apiGetMax is apiGet keeping at most limit bytes of the body.
func (c *Console) apiGetMax(r *http.Request, path string, limit int) (int, []byte) {
	q, err := http.NewRequestWithContext(r.Context(), http.MethodGet, path, nil)
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	q.RemoteAddr, q.TLS, q.Host, q.RequestURI = r.RemoteAddr, r.TLS, r.Host, path
	if ck := r.Header.Values("Cookie"); len(ck) > 0 {
		q.Header["Cookie"] = ck
	}
	rec := &answer{header: http.Header{}, code: http.StatusOK, limit: limit}
	c.api.ServeHTTP(rec, q)
	return rec.code, rec.body.Bytes()
}

// apiError is the message of an API error answer.
func apiError(code int, body []byte) string {
	var eb dto.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		return eb.Error
	}
	return http.StatusText(code)
}

// whoAmI asks the API who r's credential is (GET /api/v1/session): 200
// with who, 401 when r has no working session.
func (c *Console) whoAmI(r *http.Request) (int, *signedIn) {
	code, body := c.apiGet(r, "/api/v1/session")
	if code != http.StatusOK {
		return code, nil
	}
	var who signedIn
	if err := json.Unmarshal(body, &who.WhoAmI); err != nil {
		c.log.Error("read who am I", "error", err)
		return http.StatusInternalServerError, nil
	}
	return http.StatusOK, &who
}

// signedIn serves h to a signed-in person and sends anyone else to the
// sign-in page, with where they were going; one whose session ended is
// told so there.
func (c *Console) signedIn(h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		code, who := c.whoAmI(r)
		switch {
		case code == http.StatusOK && who.Session == "":
			code = http.StatusUnauthorized // a bearer token: the console is for sessions
		case code == http.StatusOK:
			h(w, r, who)
			return
		}
		if code != http.StatusUnauthorized {
			w.WriteHeader(code)
			c.render(w, "error", pageData{Title: "Error", Error: "berth could not tell who you are (" + http.StatusText(code) + "): see the server's log, then reload the page."})
			return
		}
		v := url.Values{"next": {r.URL.RequestURI()}}
		if _, err := r.Cookie(api.SessionCookie); err == nil {
			v.Set("why", "expired")
		}
		http.Redirect(w, r, "/login?"+v.Encode(), http.StatusSeeOther)
	})
}

// answer keeps an in-process API answer (at most limit bytes of body: who
// am I is a few hundred bytes; a chart's traffic more).
type answer struct {
	header http.Header
	code   int
	wrote  bool
	limit  int
	body   bytes.Buffer
}

func (a *answer) Header() http.Header { return a.header }

func (a *answer) WriteHeader(code int) {
	if !a.wrote {
		a.code, a.wrote = code, true
	}
}

func (a *answer) Write(p []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	if room := a.limit - a.body.Len(); len(p) > room {
		a.body.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return a.body.Write(p)
}
