package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
)

var funcs = template.FuncMap{
	"time":     fmtTime,
	"clock":    func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"span":     fmtSpan,
	"percent":  func(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" },
	"count":    fmtCount,
	"badge":    badgeText,
	"terminal": terminal,
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// fmtTime renders a time as the UI shows it everywhere: UTC, to the second.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// fmtSpan renders a window: "2025-08-21 02:30–04:30Z (2h0m)".
func fmtSpan(from, to time.Time) string {
	if from.IsZero() || to.IsZero() {
		return "no window"
	}
	from, to = from.UTC(), to.UTC()
	end := to.Format("2006-01-02 15:04Z")
	if from.YearDay() == to.YearDay() && from.Year() == to.Year() {
		end = to.Format("15:04Z")
	}
	return from.Format("2006-01-02 15:04") + "–" + end + " (" + to.Sub(from).String() + ")"
}

// fmtCount renders a count with thin thousands separators: 1 204 311.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 4 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// badgeText names a citation verdict as a person reads it.
func badgeText(status string) string {
	switch status {
	case causeway.CitationVerified:
		return "verified"
	case causeway.CitationQuoteMismatch:
		return "quote mismatch"
	case causeway.CitationNotInContext:
		return "not in context"
	case causeway.CitationUnknownID:
		return "unknown id"
	}
	return "unchecked"
}

func terminal(status string) bool {
	switch status {
	case causeway.StatusDone, causeway.StatusFailed, causeway.StatusCanceled:
		return true
	}
	return false
}

type loginData struct {
	Viewer *viewer
	Next   string
	CSRF   string
	Error  string
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if u.cfg.Open {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if s, _, err := u.session(r); err == nil && s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	u.renderLogin(w, r, http.StatusOK, safeNext(r.URL.Query().Get("next")), "")
}

// renderLogin shows the sign-in form with a fresh login CSRF token, kept
// in a cookie of its own: the form must have been loaded by this browser,
// so that another site cannot sign a victim in as the attacker.
func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	token := store.NewSessionSecret()
	setCookie(w, r, loginCookie, token, 30*time.Minute)
	u.render(w, r, status, "login", loginData{Next: next, CSRF: token, Error: msg})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		u.errorPage(w, r, http.StatusBadRequest, "The sign-in form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	c, err := r.Cookie(loginCookie)
	if err != nil || checkCSRF(r, c.Value, r.PostForm.Get("csrf")) != nil {
		u.renderLogin(w, r, http.StatusForbidden, next, "The sign-in form expired or came from another site; try again.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		u.renderLogin(w, r, http.StatusUnauthorized, next, "Paste an API token to sign in.")
		return
	}
	secret, _, err := u.signIn(r.Context(), token)
	switch {
	case errorsIsBadToken(err):
		u.renderLogin(w, r, http.StatusUnauthorized, next, "That token is not valid or was revoked.")
		return
	case err != nil:
		u.cfg.Logger.Error("sign in", "error", err)
		u.renderLogin(w, r, http.StatusServiceUnavailable, next, "Signing in failed; the server log has the cause.")
		return
	}
	setCookie(w, r, loginCookie, "", 0)
	setCookie(w, r, SessionCookie, secret, u.cfg.SessionTTL)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	_ = r.ParseForm()
	s, secret, err := u.session(r)
	if err != nil {
		u.errorPage(w, r, http.StatusServiceUnavailable, "The database does not answer; try again in a moment.")
		return
	}
	if s != nil {
		if checkCSRF(r, s.CSRF, r.PostForm.Get("csrf")) != nil {
			u.errorPage(w, r, http.StatusForbidden, ErrCSRF.Error())
			return
		}
		if err := u.cfg.DB.DeleteSession(r.Context(), secret); err != nil {
			u.cfg.Logger.Error("sign out", "error", err)
		}
	}
	setCookie(w, r, SessionCookie, "", 0)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type incidentsData struct {
	Viewer    *viewer
	Incidents []*store.IncidentSummary
}

func (u *UI) incidentsPage(w http.ResponseWriter, r *http.Request, v viewer) {
	sums, err := u.cfg.DB.IncidentSummaries(r.Context(), 200)
	if err != nil {
		u.cfg.Logger.Error("list incidents", "error", err)
		u.errorPage(w, r, http.StatusServiceUnavailable, "The incidents could not be read; try again in a moment.")
		return
	}
	u.render(w, r, http.StatusOK, "incidents", incidentsData{Viewer: &v, Incidents: sums})
}

type incidentData struct {
	Viewer   *viewer
	Incident *causeway.Incident
	Sources  []*causeway.Source
	Lines    int64
	// Latest is the newest investigation; Current the newest finished
	// one, whose answer the page shows.
	Latest, Current *causeway.Investigation
	Answer          *answerView
	// Feedback is an engineer's verdict on Current's answer; nil when
	// nobody has given one.
	Feedback *store.Feedback
}

func (u *UI) incidentPage(w http.ResponseWriter, r *http.Request, v viewer) {
	ctx := r.Context()
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		u.errorPage(w, r, http.StatusNotFound, "There is no incident "+chi.URLParam(r, "id")+".")
		return
	}
	inc, err := u.cfg.DB.Incident(ctx, id)
	if causeway.ErrorCode(err) == causeway.ENOTFOUND {
		u.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("There is no incident %d.", id))
		return
	}
	d := incidentData{Viewer: &v, Incident: inc}
	if err == nil {
		d.Sources, err = u.cfg.DB.Sources(ctx, id)
	}
	if err == nil {
		d.Lines, err = u.cfg.DB.LineCount(ctx, id)
	}
	var invs []*causeway.Investigation
	if err == nil {
		invs, err = u.cfg.DB.Investigations(ctx, id)
	}
	if err != nil {
		u.cfg.Logger.Error("read incident", "incident", id, "error", err)
		u.errorPage(w, r, http.StatusServiceUnavailable, "The incident could not be read; try again in a moment.")
		return
	}
	if len(invs) > 0 {
		d.Latest = invs[0]
	}
	for _, inv := range invs {
		if inv.Status == causeway.StatusDone && inv.Answer != nil {
			d.Current = inv
			d.Answer = newAnswerView(inv.Answer, inv.Verdict)
			break
		}
	}
	if d.Current != nil {
		// The API has no read of feedback; the page shows what is stored, so
		// that a verdict survives a reload.
		d.Feedback, err = u.cfg.DB.InvestigationFeedback(ctx, d.Current.ID)
		if causeway.ErrorCode(err) == causeway.ENOTFOUND {
			d.Feedback, err = nil, nil
		}
		if err != nil {
			u.cfg.Logger.Error("read feedback", "investigation", d.Current.ID, "error", err)
			u.errorPage(w, r, http.StatusServiceUnavailable, "The incident could not be read; try again in a moment.")
			return
		}
	}
	u.render(w, r, http.StatusOK, "incident", d)
}

// answerView is an answer with each citation next to its verdict.
type answerView struct {
	*causeway.Answer
	Verdict  *causeway.Verdict
	Chain    []statementView
	Claims   []statementView
	RuledOut []statementView
}

type statementView struct {
	Label     string // the step number, or the ruled-out hypothesis
	Text      string
	Status    string // grounded, partial, ungrounded; "" when unknown
	Citations []citationView
}

type citationView struct {
	ID, Quote, Status, Line string
}

// newAnswerView pairs each citation of ans with its verdict by where it is
// and which line it names, in order, as the verifier walked them.
func newAnswerView(ans *causeway.Answer, v *causeway.Verdict) *answerView {
	av := &answerView{Answer: ans, Verdict: v}
	verdicts := map[string][]causeway.CitationVerdict{}
	claims := map[string]string{}
	if v != nil {
		for _, cv := range v.Citations {
			verdicts[cv.Where+" "+cv.ID] = append(verdicts[cv.Where+" "+cv.ID], cv)
		}
		for _, c := range v.Claims {
			claims[c.Where] = c.Status
		}
	}
	stmt := func(where, label, text string, cites []causeway.Citation) statementView {
		sv := statementView{Label: label, Text: text, Status: claims[where]}
		for _, c := range cites {
			cv := citationView{ID: c.ID, Quote: c.Quote}
			if q := verdicts[where+" "+c.ID]; len(q) > 0 {
				cv.Status, cv.Line = q[0].Status, q[0].Line
				verdicts[where+" "+c.ID] = q[1:]
			}
			sv.Citations = append(sv.Citations, cv)
		}
		return sv
	}
	for i, s := range ans.CausalChain {
		label := strconv.Itoa(s.Step)
		if s.Step == 0 {
			label = strconv.Itoa(i + 1)
		}
		av.Chain = append(av.Chain, stmt(fmt.Sprintf("causal_chain[%d]", i), label, s.Text, s.Citations))
	}
	for i, c := range ans.Claims {
		av.Claims = append(av.Claims, stmt(fmt.Sprintf("claims[%d]", i), "", c.Text, c.Citations))
	}
	for i, r := range ans.RuledOut {
		av.RuledOut = append(av.RuledOut, stmt(fmt.Sprintf("ruled_out[%d]", i), r.Hypothesis, r.Why, r.Citations))
	}
	return av
}
