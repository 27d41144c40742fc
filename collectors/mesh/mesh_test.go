package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
	"github.com/causeway-rca/causeway/collectors/k8s"
)

var update = flag.Bool("update", false, "rewrite golden files")

// now is when the test cluster is read.
var now = time.Date(2025, 11, 28, 15, 12, 21, 0, time.UTC)

var incident = &causeway.Incident{ID: 3107, WindowStart: now.Add(-7 * time.Hour), WindowEnd: now.Add(3 * time.Hour)}

// memSink keeps what it is given, skipping lines it already holds as the
// store does; it is safe for the collector's parallel readers.
type memSink struct {
	mu      sync.Mutex
	sources map[string]causeway.Source
	lines   map[string][]causeway.Line
}

func newMemSink() *memSink {
	return &memSink{sources: map[string]causeway.Source{}, lines: map[string][]causeway.Line{}}
}

func (s *memSink) WriteLines(_ context.Context, src *causeway.Source, lines []causeway.Line) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sources[src.Name] = *src
	have := int64(len(s.lines[src.Name]))
	for _, l := range lines {
		if l.IncidentID != incident.ID || l.Source != src.Name {
			return fmt.Errorf("line %d of %s filed under incident %d source %q", l.Seq, src.Name, l.IncidentID, l.Source)
		}
		if l.Seq >= have {
			s.lines[src.Name] = append(s.lines[src.Name], l)
			have++
		}
	}
	return nil
}

// render shows every source with its lines, in name order, as a user
// would look through them.
func (s *memSink) render() []byte {
	var b bytes.Buffer
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range s.sources {
			if !yield(n) {
				return
			}
		}
	}) {
		src := s.sources[name]
		fmt.Fprintf(&b, "## %s (%s) %s lines=%d", name, src.Kind, src.Query, src.Lines)
		if src.Error != "" {
			fmt.Fprintf(&b, " error=%q", src.Error)
		}
		b.WriteByte('\n')
		for _, l := range s.lines[name] {
			attrs, _ := json.Marshal(l.Attrs)
			fmt.Fprintf(&b, "%s %s %s\n", l.Time.Format(time.RFC3339), l.Text, attrs)
		}
	}
	return b.Bytes()
}

// adminServer serves recorded admin outputs by request path, as an Envoy
// admin, istiod's debug port or a Linkerd proxy would; a path mapped to a
// number answers that status.
func adminServer(t *testing.T, routes map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, ok := routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(file, "status ") {
			var code int
			fmt.Sscanf(file, "status %d", &code)
			http.Error(w, "admin unavailable", code)
			return
		}
		data, err := os.ReadFile(filepath.Join("testdata", "admin", file))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var envoyRoutes = map[string]string{"/server_info": "server_info.json", "/memory": "memory.json", "/certs": "certs.json",
	"/clusters": "clusters.txt", "/stats": "stats.txt", "/config_dump": "config_dump.json"}

// fakeDialer reaches pods' ports at test servers, as the port-forward
// reaches them inside the pods; a port it does not know is refused as the
// kubelet refuses it.
type fakeDialer struct {
	addrs map[string]string // "namespace/pod:port" -> address
}

func (d *fakeDialer) DialPod(ctx context.Context, namespace, pod string, port int) (net.Conn, error) {
	addr, ok := d.addrs[fmt.Sprintf("%s/%s:%d", namespace, pod, port)]
	if !ok {
		return nil, fmt.Errorf("port-forward to %s/%s:%d: kubelet: error forwarding port %d to pod %s: connect: connection refused", namespace, pod, port, port, pod)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", addr)
}

// fakePods lists pods by namespace, honouring "key=value" selectors.
type fakePods map[string][]k8s.Pod

func (f fakePods) Pods(_ context.Context, namespace, selector string) ([]k8s.Pod, error) {
	var out []k8s.Pod
	for _, p := range f[namespace] {
		k, v, _ := strings.Cut(selector, "=")
		if selector == "" || p.Labels[k] == v {
			out = append(out, p)
		}
	}
	return out, nil
}

// pod builds a running pod with containers, its JSON as the API returns it.
func pod(ns, name string, labels map[string]string, ready bool, containers ...k8s.PodContainer) k8s.Pod {
	var statuses []map[string]any
	for _, c := range containers {
		st := map[string]any{"name": c.Name, "ready": c.Ready, "restartCount": c.Restarts, "state": map[string]any{"running": map[string]any{"startedAt": "2025-11-27T16:02:18Z"}}}
		if c.LastTerminated != "" {
			st["lastState"] = map[string]any{"terminated": map[string]any{"reason": c.LastTerminated, "exitCode": 137, "finishedAt": "2025-11-28T14:58:02Z"}}
		}
		statuses = append(statuses, st)
	}
	readyText := "False"
	if ready {
		readyText = "True"
	}
	raw, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"namespace": ns, "name": name, "labels": labels},
		"status": map[string]any{"phase": "Running", "containerStatuses": statuses,
			"conditions": []map[string]any{{"type": "Ready", "status": readyText, "lastTransitionTime": "2025-11-28T14:58:05Z"}}}})
	return k8s.Pod{Namespace: ns, Name: name, Node: "gke-prod-pool-2-8f1c-5tqz", Phase: "Running", Ready: ready, Labels: labels, Containers: containers, JSON: raw}
}

// cluster is the test cluster: an Istio sidecar, a sidecar whose admin
// port cannot be reached, a pod without a proxy, a Linkerd proxy, istiod
// and an Istio ingress gateway, Envoy Gateway's controller and a proxy
// of it whose /config_dump fails, and a Linkerd control plane pod.
func cluster(t *testing.T) (fakePods, *fakeDialer) {
	envoy := adminServer(t, envoyRoutes)
	failing := map[string]string{}
	for k, v := range envoyRoutes {
		failing[k] = v
	}
	failing["/config_dump"] = "status 503"
	egProxy := adminServer(t, failing)
	istiod := adminServer(t, map[string]string{"/debug/syncz": "syncz.json"})
	linkerd := adminServer(t, map[string]string{"/metrics": "linkerd-metrics.txt"})
	addr := func(s *httptest.Server) string { return s.Listener.Addr().String() }

	proxy := k8s.PodContainer{Name: "istio-proxy", MemoryLimit: "1Gi", Ready: true}
	pods := fakePods{
		"checkout": {
			pod("checkout", "checkout-api-6f9d7b8c4-bx7rw", map[string]string{"app": "checkout-api"}, true, k8s.PodContainer{Name: "checkout-api", Ready: true}, proxy),
			pod("checkout", "checkout-api-6f9d7b8c4-zz9ab", map[string]string{"app": "checkout-api"}, false,
				k8s.PodContainer{Name: "checkout-api", Ready: true}, k8s.PodContainer{Name: "istio-proxy", Restarts: 2, LastTerminated: "OOMKilled"}),
			pod("checkout", "report-29262480-q7xkd", map[string]string{"app": "report"}, true, k8s.PodContainer{Name: "report", Ready: true}),
		},
		"emojivoto": {pod("emojivoto", "web-7b8c6d9f5-x2p4q", map[string]string{"app": "web"}, true,
			k8s.PodContainer{Name: "web", Ready: true}, k8s.PodContainer{Name: "linkerd-proxy", Ready: true})},
		"istio-system": {
			pod("istio-system", "istiod-6d4b8c7f9-m8rtv", map[string]string{"app": "istiod"}, true, k8s.PodContainer{Name: "discovery", Ready: true}),
			pod("istio-system", "istio-ingressgateway-7f8c6d9b4-h2xqp", map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}, true, proxy),
		},
		"linkerd": {pod("linkerd", "linkerd-destination-6f9b7c8d4-k2xqz", map[string]string{"linkerd.io/control-plane-component": "destination"}, true,
			k8s.PodContainer{Name: "destination", Ready: true}, k8s.PodContainer{Name: "linkerd-proxy", Ready: true})},
		"envoy-gateway-system": {
			pod("envoy-gateway-system", "envoy-gateway-6f8b9c7d54-9wz7t", map[string]string{"control-plane": "envoy-gateway"}, true,
				k8s.PodContainer{Name: "envoy-gateway", Ready: true, Restarts: 1}),
			pod("envoy-gateway-system", "envoy-default-eg-e41e7b31-5d8b9c7f6-qx7zk", map[string]string{"gateway.envoyproxy.io/owning-gateway-name": "eg"}, true,
				k8s.PodContainer{Name: "envoy", Ready: true}, k8s.PodContainer{Name: "shutdown-manager", Ready: true}),
		},
	}
	dialer := &fakeDialer{addrs: map[string]string{
		"checkout/checkout-api-6f9d7b8c4-bx7rw:15000":                          addr(envoy),
		"istio-system/istio-ingressgateway-7f8c6d9b4-h2xqp:15000":              addr(envoy),
		"istio-system/istiod-6d4b8c7f9-m8rtv:15014":                            addr(istiod),
		"emojivoto/web-7b8c6d9f5-x2p4q:4191":                                   addr(linkerd),
		"envoy-gateway-system/envoy-default-eg-e41e7b31-5d8b9c7f6-qx7zk:19000": addr(egProxy),
	}}
	return pods, dialer
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
		for i := range max(len(w), len(g)) {
			if i >= len(w) || i >= len(g) || w[i] != g[i] {
				t.Fatalf("%s differs at line %d (run go test -update and review the diff)\nwant: %.300s\n got: %.300s", name, i+1,
					strings.Join(w[i:min(i+1, len(w))], ""), strings.Join(g[i:min(i+1, len(g))], ""))
			}
		}
	}
}

// TestCollect reads the test cluster through the dialer and compares every
// source and line with a golden file: each proxy's admin outputs at the
// time they were taken, with the pod, container, node and memory limit;
// istiod's sync status; a Linkerd proxy's metrics; the control planes'
// pod status; and, for what could not be read, the reason.
func TestCollect(t *testing.T) {
	pods, dialer := cluster(t)
	sink := newMemSink()
	c := New(pods, dialer, Config{Namespaces: []string{"checkout", "emojivoto"}, Now: func() time.Time { return now }})
	if err := c.Collect(context.Background(), incident, sink); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "collect.golden", sink.render())

	if _, ok := sink.sources["mesh/checkout/report-29262480-q7xkd/stats"]; ok {
		t.Error("a pod without a mesh proxy was read")
	}
	if _, ok := sink.sources["mesh/linkerd/linkerd-destination-6f9b7c8d4-k2xqz/metrics"]; ok {
		t.Error("a control plane component's own proxy was read as a workload's")
	}
	for name, src := range sink.sources {
		if src.Kind != files.KindMeshAdmin {
			continue
		}
		for _, l := range sink.lines[name] {
			if !l.Time.Equal(now) || l.Attrs["pod"] == "" || l.Attrs["endpoint"] == "" {
				t.Errorf("%s line %d: time %v attrs %v", name, l.Seq, l.Time, l.Attrs)
			}
		}
	}
	refused := sink.sources["mesh/checkout/checkout-api-6f9d7b8c4-zz9ab"]
	if !strings.Contains(refused.Error, "cannot reach the istio-proxy admin port 15000") || !strings.Contains(refused.Error, "connection refused") {
		t.Errorf("unreachable admin: %+v", refused)
	}
	if _, ok := sink.sources["mesh/checkout/checkout-api-6f9d7b8c4-zz9ab/certs"]; ok {
		t.Error("requests went on to a pod whose admin port cannot be reached")
	}
	dump := sink.sources["mesh/envoy-gateway-system/envoy-default-eg-e41e7b31-5d8b9c7f6-qx7zk/config_dump"]
	if !strings.Contains(dump.Error, "503 Service Unavailable") {
		t.Errorf("failed config_dump: %+v", dump)
	}
	if got := sink.lines["mesh/envoy-gateway-system/envoy-default-eg-e41e7b31-5d8b9c7f6-qx7zk/stats"]; len(got) == 0 {
		t.Error("one failed request lost the proxy's other outputs")
	}

	// Collecting again adds nothing: every source is already stored.
	before := sink.render()
	if err := c.Collect(context.Background(), incident, sink); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, sink.render()) {
		t.Error("a second collection changed what is stored")
	}
}

// TestCollectBounds: the pods read are bounded, the most telling first
// (istiod, gateways, pods not ready or restarted), and the rest named; a
// response over the size bound is cut and says so.
func TestCollectBounds(t *testing.T) {
	pods, dialer := cluster(t)
	sink := newMemSink()
	c := New(pods, dialer, Config{Namespaces: []string{"checkout", "emojivoto"}, MaxPods: 4, MaxBytes: 2000, Parallel: 1,
		Endpoints: []string{"/stats", "/config_dump"}, Now: func() time.Time { return now }})
	if err := c.Collect(context.Background(), incident, sink); err != nil {
		t.Fatal(err)
	}
	var read []string
	for name := range sink.sources {
		if parts := strings.Split(name, "/"); len(parts) >= 3 && parts[2] != "control-plane-pods.json" {
			read = append(read, parts[2])
		}
	}
	slices.Sort(read)
	read = slices.Compact(read)
	want := []string{"checkout-api-6f9d7b8c4-zz9ab", "envoy-default-eg-e41e7b31-5d8b9c7f6-qx7zk", "istio-ingressgateway-7f8c6d9b4-h2xqp", "istiod-6d4b8c7f9-m8rtv"}
	if !slices.Equal(read, want) {
		t.Errorf("pods read %v, want %v", read, want)
	}
	summary := sink.sources["mesh"]
	if !strings.Contains(summary.Error, "2 pods with a mesh proxy not read (limit 4): checkout/checkout-api-6f9d7b8c4-bx7rw, emojivoto/web-7b8c6d9f5-x2p4q") {
		t.Errorf("summary error %q", summary.Error)
	}
	stats := sink.sources["mesh/istio-system/istio-ingressgateway-7f8c6d9b4-h2xqp/stats"]
	if !strings.Contains(stats.Error, "response too large: cut at 2000 bytes") || stats.Lines == 0 {
		t.Errorf("cut stats: %+v", stats)
	}
	dump := sink.sources["mesh/istio-system/istio-ingressgateway-7f8c6d9b4-h2xqp/config_dump"]
	if !strings.Contains(dump.Error, "response too large") || !strings.Contains(dump.Error, "parse: malformed JSON") {
		t.Errorf("cut config dump: %+v", dump)
	}
}

// TestCollectNothing: a namespace without mesh is recorded as such, and a
// canceled collection stops.
func TestCollectNothing(t *testing.T) {
	sink := newMemSink()
	c := New(fakePods{"batch": {pod("batch", "job-1", nil, true, k8s.PodContainer{Name: "job"})}}, &fakeDialer{},
		Config{Namespaces: []string{"batch"}, ControlPlanes: []string{}, Now: func() time.Time { return now }})
	if err := c.Collect(context.Background(), incident, sink); err != nil {
		t.Fatal(err)
	}
	if src := sink.sources["mesh"]; !strings.Contains(src.Error, "no pod with a mesh proxy or control plane found in batch") {
		t.Errorf("mesh source %+v", src)
	}
	pods, dialer := cluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(pods, dialer, Config{Namespaces: []string{"checkout"}}).Collect(ctx, incident, newMemSink()); err == nil {
		t.Error("a canceled collection reported success")
	}
}
