package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

// promServer answers every query_range with one series of 13 samples over
// 03:00–03:12 with a spike at 03:06 when the query reads memory, and with
// no series otherwise.
func promServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query_range" || r.ParseForm() != nil {
			http.NotFound(w, r)
			return
		}
		if !strings.Contains(r.Form.Get("query"), "container_memory_working_set_bytes") {
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
			return
		}
		var vals []string
		start := time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC).Unix()
		for i := range 13 {
			v := "100"
			if i == 6 {
				v = "900"
			}
			vals = append(vals, fmt.Sprintf(`[%d,"%s"]`, start+int64(i*60), v))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"namespace":"shop","pod":"web-1"},"values":[%s]}]}}`,
			strings.Join(vals, ","))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCollectPrometheusTwice(t *testing.T) {
	srv := promServer(t)
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t), "PROMETHEUS_URL": srv.URL}
	stdout, stderr, err := run(t, env, "collect", "prometheus", "--namespace", "shop",
		"--from", "2025-08-21T03:00:00Z", "--to", "2025-08-21T04:00:00Z", "--title", "checkout 503s")
	if err != nil {
		t.Fatalf("collect: %v\n%s", err, stderr)
	}
	id, perr := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(stdout, "incident ")), 10, 64)
	if perr != nil {
		t.Fatalf("stdout %q does not name the new incident", stdout)
	}
	want := fmt.Sprintf("collect prometheus: incident %d: 2 new lines (2 read) from 1 sources (0 with errors) in ", id)
	if !strings.Contains(stderr, want) {
		t.Errorf("summary = %q, want %q", stderr, want)
	}

	db, err := store.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, err := db.Incident(context.Background(), id)
	if err != nil || inc.Title != "checkout 503s" {
		t.Fatalf("incident = %+v, %v", inc, err)
	}
	var lines []causeway.Line
	err = db.ScanLines(context.Background(), id, store.LineFilter{}, func(l causeway.Line) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || !strings.Contains(lines[1].Text, "spike to 900 at 03:06:00") || lines[1].Source != "prometheus/memory" {
		t.Fatalf("stored lines = %+v", lines)
	}
	for _, l := range lines {
		if l.Tokens == 0 || l.Template == "" {
			t.Errorf("line %q stored without tokens or template: collect must annotate as import does", l.Text)
		}
	}

	// Again, into the same incident: nothing new.
	_, stderr, err = run(t, env, "collect", "prometheus", "--incident", strconv.FormatInt(id, 10), "--namespace", "shop")
	if err != nil {
		t.Fatalf("collect again: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("incident %d: 0 new lines (2 read)", id); !strings.Contains(stderr, want) {
		t.Errorf("second summary = %q, want %q", stderr, want)
	}
}

func TestCollectReportsSourceErrors(t *testing.T) {
	jiraSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`)
	}))
	defer jiraSrv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+closed.URL+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	window := []string{"--from", "2025-08-21T03:00:00Z", "--to", "2025-08-21T04:00:00Z"}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr string
	}{
		{"jira issue missing", map[string]string{"JIRA_URL": jiraSrv.URL, "JIRA_TOKEN": "pat"},
			[]string{"collect", "jira", "--issue", "AIB-1"},
			"collect jira: jira/AIB-1: issue AIB-1: HTTP 404: Issue does not exist"},
		{"cluster unreachable", map[string]string{"KUBECONFIG": kubeconfig},
			[]string{"collect", "k8s", "--namespace", "shop", "--timeout", "10s"},
			"collect k8s: k8s: reach the cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := run(t, tt.env, append(tt.args, window...)...)
			var ee exitError
			if !errors.As(err, &ee) || ee.code != 1 {
				t.Errorf("err = %v, want exit 1 for a collection that got nothing", err)
			}
			if !strings.Contains(stderr, tt.stderr) || !strings.Contains(stderr, "0 new lines (0 read) from 1 sources (1 with errors)") {
				t.Errorf("stderr = %q, want %q and a summary", stderr, tt.stderr)
			}
		})
	}
}

func TestCollectUsage(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		msg  string
	}{
		{"no source", nil, []string{"collect"}, "collect needs a source"},
		{"unknown source", nil, []string{"collect", "splunk"}, `unknown source "splunk"`},
		{"k8s without scope", nil, []string{"collect", "k8s", "--from", "2025-08-21T03:00:00Z", "--to", "2025-08-21T04:00:00Z"}, "give --namespace or --controllers"},
		{"bad controller selector", nil, []string{"collect", "k8s", "--controllers", "istio-system:app in ("}, "bad label selector"},
		{"new incident without window", map[string]string{"PROMETHEUS_URL": "http://127.0.0.1:1"}, []string{"collect", "prometheus"}, "a new incident needs --from and --to"},
		{"bad time", map[string]string{"PROMETHEUS_URL": "http://127.0.0.1:1"}, []string{"collect", "prometheus", "--from", "03:00"}, `--from "03:00" is not an RFC 3339 time`},
		{"bad query", map[string]string{"PROMETHEUS_URL": "http://127.0.0.1:1"}, []string{"collect", "prometheus", "--query", "rate(x[5m])"}, "want name=expr"},
		{"slack without token", nil, []string{"collect", "slack", "--channel", "C0123456"}, "set SLACK_TOKEN"},
		{"jira without issues", map[string]string{"JIRA_URL": "http://127.0.0.1:1"}, []string{"collect", "jira"}, "give --issue, --project or --jql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = map[string]string{}
			}
			env["DATABASE_URL"] = "postgres://unused@127.0.0.1:1/none" // usage errors come before the database
			_, _, err := run(t, env, tt.args...)
			var ee exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(ee.msg, tt.msg) {
				t.Errorf("err = %#v, want exit 2 with %q", err, tt.msg)
			}
		})
	}
}
